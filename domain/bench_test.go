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
// memory backend without an envelope, with each of its fields alone and
// with all of them, in the same run. Time stamps come from the coarse
// clock (WithCoarseClock), except in clock=now, which calls time.Now per
// record.
func BenchmarkEnvelope(b *testing.B) {
	cases := []struct {
		name string
		env  domain.Envelope
		opt  domain.WriterOption
	}{
		{"none", 0, nil},
		{"seq", domain.EnvelopeSeq, nil},
		{"crc", domain.EnvelopeCRC, nil},
		{"time", domain.EnvelopeTime, domain.WithCoarseClock(time.Millisecond)},
		{"all", domain.EnvelopeAll, domain.WithCoarseClock(time.Millisecond)},
		{"all/clock=now", domain.EnvelopeAll, nil},
	}
	for _, c := range cases {
		h, err := domain.NewHeader(domain.Hints{ChannelID: 1, Capacity: 1 << 20, MaxMsgLen: 72, Timeout: 3600, TickUnit: domain.Nanos, Envelope: c.env})
		if err != nil {
			b.Fatal(err)
		}
		var opts []domain.WriterOption
		if c.opt != nil {
			opts = append(opts, c.opt)
		}
		data := make([]byte, 72)
		b.Run("Write/envelope="+c.name, func(b *testing.B) {
			st := memory.New(h.FileSize())
			w, _ := domain.NewWriter(st.Share(), h, codecs.Raw{}, opts...)
			b.SetBytes(72)
			b.ReportAllocs()
			for range b.N {
				if _, err := w.Write(data); err != nil {
					w.Close()
					w, _ = domain.NewWriter(st.Share(), h, codecs.Raw{}, opts...)
					w.Write(data)
				}
			}
			w.Close()
		})
		if c.name == "all/clock=now" {
			continue // reading does not depend on the clock
		}
		b.Run("Read/envelope="+c.name, func(b *testing.B) {
			st := memory.New(h.FileSize())
			w, _ := domain.NewWriter(st.Share(), h, codecs.Raw{}, opts...)
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
