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

// BenchmarkEnvelopeCost measures what the full envelope (coarse clock)
// adds to Write and to Read of a 72-byte record, the two channels taken in
// turns, 4,096 records at a time, the first of each pair alternating: a
// host whose speed drifts (a shared machine) slows both alike, where
// BenchmarkEnvelope's cases run seconds apart. It reports each channel's
// ns per record and their difference, overhead-ns/op.
func BenchmarkEnvelopeCost(b *testing.B) {
	const chunk = 4096
	data := make([]byte, 72)
	headers := [2]domain.Header{}
	for i, env := range []domain.Envelope{0, domain.EnvelopeAll} {
		h, err := domain.NewHeader(domain.Hints{ChannelID: 1, Capacity: 1 << 20, MaxMsgLen: 72 + 24, Timeout: 3600, TickUnit: domain.Nanos, Envelope: env})
		if err != nil {
			b.Fatal(err)
		}
		headers[i] = h
	}
	opt := domain.WithCoarseClock(time.Millisecond)
	report := func(b *testing.B, spent [2]time.Duration) {
		none, all := float64(spent[0])/float64(b.N), float64(spent[1])/float64(b.N)
		b.ReportMetric(none, "none-ns/op")
		b.ReportMetric(all, "all-ns/op")
		b.ReportMetric(all-none, "overhead-ns/op")
	}
	b.Run("Write", func(b *testing.B) {
		var sts [2]*memory.Storage
		var ws [2]*domain.Writer[[]byte]
		for i, h := range headers {
			sts[i] = memory.New(h.FileSize())
			ws[i], _ = domain.NewWriter(sts[i].Share(), h, codecs.Raw{}, opt)
		}
		write := func(i, n int) time.Duration {
			start := time.Now()
			for range n {
				if _, err := ws[i].Write(data); err != nil {
					ws[i].Close()
					ws[i], _ = domain.NewWriter(sts[i].Share(), headers[i], codecs.Raw{}, opt)
					ws[i].Write(data)
				}
			}
			return time.Since(start)
		}
		report(b, inTurns(b, chunk, write))
		for _, w := range ws {
			w.Close()
		}
	})
	b.Run("Read", func(b *testing.B) {
		var rs [2]*domain.Reader
		for i, h := range headers {
			st := memory.New(h.FileSize())
			w, _ := domain.NewWriter(st.Share(), h, codecs.Raw{}, opt)
			for {
				if _, err := w.Write(data); err != nil {
					break
				}
			}
			w.Close()
			var err error
			if rs[i], err = domain.NewReader(st.Share()); err != nil {
				b.Fatal(err)
			}
		}
		got := 0
		handler := func(rec domain.Record) error { got += len(rec.Payload); return nil }
		read := func(i, n int) time.Duration {
			start := time.Now()
			for left := n; left > 0; {
				before := got
				rs[i].Read(handler, left)
				if k := (got - before) / 72; k > 0 {
					left -= k
				} else {
					rs[i].MoveTo(0)
				}
			}
			return time.Since(start)
		}
		report(b, inTurns(b, chunk, read))
	})
}

// inTurns runs b.N operations on each of channels 0 and 1 by run(i, n),
// chunk at a time, the channel that goes first alternating, and returns
// the time each took in all. The timer stops after it.
func inTurns(b *testing.B, chunk int, run func(i, n int) time.Duration) (spent [2]time.Duration) {
	b.ResetTimer()
	for done, round := 0, 0; done < b.N; round++ {
		n := min(chunk, b.N-done)
		first := round % 2
		spent[first] += run(first, n)
		spent[1-first] += run(1-first, n)
		done += n
	}
	b.StopTimer()
	return spent
}
