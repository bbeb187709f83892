package domain_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
)

var benchSizes = []int{8, 72, 1024, 4096}

// benchCapacity keeps a benchmark's channel in this machine's L2 cache, so
// the figures are the library's cost, not the memory system's.
const benchCapacity = 1 << 20

// BenchmarkWrite measures Writer.Write on the memory backend. The channel
// is small enough to stay in cache (benchCapacity); when it fills up, a new
// writer starts over on the same memory, on the clock (about one reset per
// benchCapacity/record-size writes).
func BenchmarkWrite(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			h := bigHeader(b, benchCapacity, uint32(size))
			mem := memory.New(h.FileSize())
			w, _ := domain.NewWriter(mem, h, codecs.Raw{})
			data := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := w.Write(data); err != nil {
					if !errors.Is(err, domain.ErrChannelFull) && !errors.Is(err, domain.ErrRecordTooLarge) {
						b.Fatal(err)
					}
					w, _ = domain.NewWriter(mem, h, codecs.Raw{})
					w.Write(data)
				}
			}
		})
	}
}

// BenchmarkRead measures Reader.Read per record on a full memory channel,
// replayed from the start with MoveTo when the reader reaches the end.
func BenchmarkRead(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			r := filledReader(b, size)
			var n int
			handler := func(_ uint64, p []byte) { n += len(p) }
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for read := 0; read < b.N; {
				before := n
				_, err := r.Read(handler, b.N-read)
				read += (n - before) / size
				if err != nil {
					r.MoveTo(0)
				}
			}
		})
	}
}

// BenchmarkRecords is BenchmarkRead through the Records iterator.
func BenchmarkRecords(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			r := filledReader(b, size)
			var n int
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for read := 0; read < b.N; r.MoveTo(0) {
				for _, p := range r.Records() {
					n += len(p)
					if read++; read == b.N {
						break
					}
				}
			}
		})
	}
}

func filledReader(b *testing.B, size int) *domain.Reader {
	h := bigHeader(b, benchCapacity, uint32(size))
	mem := memory.New(h.FileSize())
	w, _ := domain.NewWriter(mem.Share(), h, codecs.Raw{})
	data := make([]byte, size)
	for {
		if _, err := w.Write(data); err != nil {
			break
		}
	}
	w.Close()
	r, err := domain.NewReader(mem)
	if err != nil {
		b.Fatal(err)
	}
	return r
}
