package portbench

import (
	"errors"
	"fmt"
	"testing"

	"github.com/kekbit-go/kekbit"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/ports"
)

// Sizes are the record sizes every backend is measured with.
var Sizes = []int{8, 72, 1024, 4096}

// Capacity keeps a benchmark's channel small enough for this machine's L2
// cache, so the figures are the library's cost rather than the memory
// system's.
const Capacity = 1 << 20

// Factory makes a fresh, zero-filled storage of size bytes for a writer and
// returns it with a function that opens another handle on the same channel
// for a reader.
type Factory func(b *testing.B, size int64) (writer ports.Storage, reader func() ports.Storage)

// Run runs the Write, Heartbeat, Read and Records benchmarks on storages
// from f.
func Run(b *testing.B, f Factory) {
	b.Run("Write", func(b *testing.B) { Write(b, f) })
	b.Run("Heartbeat", func(b *testing.B) { Heartbeat(b, f) })
	b.Run("Read", func(b *testing.B) { Read(b, f, false) })
	b.Run("Records", func(b *testing.B) { Read(b, f, true) })
}

func header(b *testing.B, size int) kekbit.Header {
	h, err := kekbit.NewHeader(kekbit.Hints{WriterID: 1, ChannelID: 1, Capacity: Capacity, MaxMsgLen: uint32(size), Timeout: 3600, TickUnit: kekbit.Secs})
	if err != nil {
		b.Fatal(err)
	}
	return h
}

// Write measures Writer.Write. When the channel fills up, a new writer
// starts over on the same storage, on the clock (once per
// Capacity/record-size writes).
func Write(b *testing.B, f Factory) {
	for _, size := range Sizes {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			h := header(b, size)
			st, _ := f(b, h.FileSize())
			w, err := kekbit.NewWriter(st, h, codecs.Raw{})
			if err != nil {
				b.Fatal(err)
			}
			data := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := w.Write(data); err != nil {
					if !errors.Is(err, kekbit.ErrChannelFull) && !errors.Is(err, kekbit.ErrNoSpace) {
						b.Fatal(err)
					}
					if w, err = kekbit.NewWriter(st, h, codecs.Raw{}); err != nil {
						b.Fatal(err)
					}
					w.Write(data)
				}
			}
		})
	}
}

// Heartbeat measures Writer.Heartbeat.
func Heartbeat(b *testing.B, f Factory) {
	h := header(b, 8)
	st, _ := f(b, h.FileSize())
	w, err := kekbit.NewWriter(st, h, codecs.Raw{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(8) // a heartbeat is its length word
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := w.Heartbeat(); err != nil {
			if w, err = kekbit.NewWriter(st, h, codecs.Raw{}); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// Read measures reading one record, through Reader.Read or, with iter set,
// through the Records iterator, on a full channel replayed from the start.
func Read(b *testing.B, f Factory, iter bool) {
	for _, size := range Sizes {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			h := header(b, size)
			st, open := f(b, h.FileSize())
			w, err := kekbit.NewWriter(st, h, codecs.Raw{})
			if err != nil {
				b.Fatal(err)
			}
			data := make([]byte, size)
			for {
				if _, err := w.Write(data); err != nil {
					break
				}
			}
			r, err := kekbit.NewReader(open())
			if err != nil {
				b.Fatal(err)
			}
			w.Close()
			defer r.Close()
			var n int
			handler := func(rec kekbit.Record) error { p := rec.Payload; n += len(p); return nil }
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for read := 0; read < b.N; r.MoveTo(0) {
				if !iter {
					before := n
					r.Read(handler, b.N-read)
					read += (n - before) / size
					continue
				}
				for rec := range r.Records() {
					p := rec.Payload
					n += len(p)
					if read++; read == b.N {
						break
					}
				}
			}
		})
	}
}
