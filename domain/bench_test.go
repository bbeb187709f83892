package domain_test

import (
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/ports"
	"github.com/kekbit-go/kekbit/ports/portbench"
)

// BenchmarkMemory runs the shared benchmarks on the memory backend.
func BenchmarkMemory(b *testing.B) {
	portbench.Run(b, func(b *testing.B, size int64) (ports.Storage, func() ports.Storage) {
		st := memory.New(size)
		return st.Share(), func() ports.Storage { return st.Share() }
	})
}

// BenchmarkEnvelope measures Write and Read of a 72-byte record on the
// memory backend with the full envelope (CRC32C, sequence number, time)
// and without it, in the same run.
func BenchmarkEnvelope(b *testing.B) {
	for _, env := range []domain.Envelope{0, domain.EnvelopeAll} {
		name := map[domain.Envelope]string{0: "none", domain.EnvelopeAll: "all"}[env]
		h, err := domain.NewHeader(domain.Hints{ChannelID: 1, Capacity: 1 << 20, MaxMsgLen: 72, Timeout: 3600, TickUnit: domain.Nanos, Envelope: env})
		if err != nil {
			b.Fatal(err)
		}
		data := make([]byte, 72)
		clock := func() time.Time { return time.Unix(1, 0) }
		b.Run("Write/envelope="+name, func(b *testing.B) {
			st := memory.New(h.FileSize())
			w, _ := domain.NewWriter(st.Share(), h, codecs.Raw{}, domain.WithWriteClock(clock))
			b.SetBytes(72)
			b.ReportAllocs()
			for range b.N {
				if _, err := w.Write(data); err != nil {
					w, _ = domain.NewWriter(st.Share(), h, codecs.Raw{}, domain.WithWriteClock(clock))
					w.Write(data)
				}
			}
		})
		b.Run("Read/envelope="+name, func(b *testing.B) {
			st := memory.New(h.FileSize())
			w, _ := domain.NewWriter(st.Share(), h, codecs.Raw{}, domain.WithWriteClock(clock))
			for {
				if _, err := w.Write(data); err != nil {
					break
				}
			}
			w.Close()
			r, err := domain.NewReader(st.Share())
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			handler := func(rec domain.Record) error { n += len(rec.Payload); return nil }
			b.SetBytes(72)
			b.ReportAllocs()
			b.ResetTimer()
			for read := 0; read < b.N; r.MoveTo(0) {
				before := n
				r.Read(handler, b.N-read)
				read += (n - before) / 72
			}
		})
	}
}
