package domain_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
)

// BenchmarkMulti measures a multi-writer channel's Claim+Commit and
// Write of a 72-byte record by one writer (uncontended), plain and with
// the envelope, and Write by 2 goroutines at once (each its own writer) on
// the memory backend. A full channel is made again, on the same memory,
// off the clock.
func BenchmarkMulti(b *testing.B) {
	for _, env := range []domain.Envelope{0, domain.EnvelopeAll} {
		h, err := domain.NewHeader(domain.Hints{ChannelID: 1, Capacity: 1 << 20, MaxMsgLen: 128, Timeout: 3600, TickUnit: domain.Nanos, Envelope: env, MultiWriter: true})
		if err != nil {
			b.Fatal(err)
		}
		st := memory.New(h.FileSize())
		fresh := func(b *testing.B) *domain.Writer[[]byte] {
			b.StopTimer()
			defer b.StartTimer()
			w, err := domain.NewWriter(st.Share(), h, codecs.Raw{}, domain.WithCoarseClock(time.Millisecond))
			if err != nil {
				b.Fatal(err)
			}
			return w
		}
		b.Run(fmt.Sprintf("ClaimCommit/envelope=%v", env), func(b *testing.B) {
			w := fresh(b)
			b.SetBytes(72)
			b.ReportAllocs()
			for range b.N {
				p, err := w.Claim(72)
				if err != nil {
					w.Close()
					w = fresh(b)
					p, _ = w.Claim(72)
				}
				p[0], p[71] = 1, 2
				w.Commit(72)
			}
			w.Close()
		})
		data := make([]byte, 72)
		b.Run(fmt.Sprintf("Write/envelope=%v", env), func(b *testing.B) {
			w := fresh(b)
			b.SetBytes(72)
			b.ReportAllocs()
			for range b.N {
				if _, err := w.Write(data); err != nil {
					w.Close()
					w = fresh(b)
					w.Write(data)
				}
			}
			w.Close()
		})
	}
	b.Run("Write/goroutines=2", func(b *testing.B) {
		h, err := domain.NewHeader(domain.Hints{ChannelID: 1, Capacity: 1<<32 - 8, MaxMsgLen: 128, Timeout: 3600, TickUnit: domain.Nanos, MultiWriter: true})
		if err != nil {
			b.Fatal(err)
		}
		if uint64(b.N)*80 > uint64(h.Capacity) {
			b.Skipf("b.N = %d records do not fit one channel", b.N)
		}
		vol := memory.NewVolume()
		first, err := domain.Create(vol, h, codecs.Raw{})
		if err != nil {
			b.Fatal(err)
		}
		second, err := domain.Join(vol, 1, codecs.Raw{})
		if err != nil {
			b.Fatal(err)
		}
		data := make([]byte, 72)
		b.SetBytes(72)
		b.ResetTimer()
		var wg sync.WaitGroup
		for i, w := range []*domain.Writer[[]byte]{first, second} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range b.N/2 + i*(b.N%2) {
					if _, err := w.Write(data); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		b.StopTimer()
		second.Release()
		first.Close()
	})
}
