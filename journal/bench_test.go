package journal_test

import (
	"fmt"
	"math/rand"
	"os"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/journal"
	"github.com/kekbit-go/kekbit/journal/positions"
	"github.com/kekbit-go/kekbit/ports"
)

func benchVolumes(b *testing.B) map[string]func() ports.Volume {
	m := map[string]func() ports.Volume{"memory": func() ports.Volume { return memory.NewVolume() }}
	if runtime.GOOS == "linux" {
		m["mmap"] = func() ports.Volume { return mmap.NewVolume(benchDir(b)) }
	}
	return m
}

func benchDir(b *testing.B) string {
	b.Helper()
	d, err := osMkdirTemp()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { osRemoveAll(d) })
	return d
}

// BenchmarkWrite compares a journal's write rate, rolls included, with one
// channel's: 72-byte payloads.
func BenchmarkWrite(b *testing.B) {
	msg := make([]byte, 72)
	for name, mk := range benchVolumes(b) {
		b.Run(name+"/journal", func(b *testing.B) {
			w, err := journal.OpenWriter(mk(), codecs.Raw{}, journal.WithSegmentSize(8<<20))
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := w.Write(msg); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mrec/s")
			b.ReportMetric(float64(w.Segment()+1), "segments")
		})
		b.Run(name+"/channel", func(b *testing.B) {
			vol := mk()
			h, err := domain.NewHeader(domain.Hints{Capacity: 8 << 20, MaxMsgLen: 1 << 16, TickUnit: domain.Nanos, Envelope: domain.EnvelopeAll})
			if err != nil {
				b.Fatal(err)
			}
			var ch *domain.Writer[[]byte]
			next := uint64(0)
			roll := func() {
				if ch != nil {
					ch.Close()
				}
				h.ChannelID = next
				next++
				var err error
				st, err := vol.Create(h.ChannelID, h.FileSize(), func(st ports.Storage) error {
					if pt, ok := st.(ports.Pretoucher); ok {
						return pt.Pretouch()
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
				if ch, err = domain.NewWriter(st, h, codecs.Raw{}); err != nil {
					b.Fatal(err)
				}
			}
			roll()
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			b.ResetTimer()
			// One channel, pretouched: when it fills the benchmark makes
			// another, outside the timer, so that only writes are timed.
			for i := 0; i < b.N; i++ {
				if _, err := ch.Write(msg); err != nil {
					b.StopTimer()
					roll()
					b.StartTimer()
					i--
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mrec/s")
		})
	}
}

// BenchmarkRead reads a journal of many segments through.
func BenchmarkRead(b *testing.B) {
	for name, mk := range benchVolumes(b) {
		b.Run(name, func(b *testing.B) {
			vol := mk()
			w, err := journal.OpenWriter(vol, codecs.Raw{}, journal.WithSegmentSize(1<<20))
			if err != nil {
				b.Fatal(err)
			}
			msg := make([]byte, 72)
			for i := 0; i < b.N; i++ {
				w.Write(msg)
			}
			w.Close()
			r, err := journal.OpenReader(vol)
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			b.ResetTimer()
			n, err := r.Read(func(journal.Record) error { return nil }, 0)
			if n != b.N || err != journal.ErrClosed {
				b.Fatalf("read %d, %v", n, err)
			}
		})
	}
}

// seekJournal writes a journal of segs 16 KiB segments, records stamped
// by a clock that steps 1µs each, and returns it with its record count and
// the clock's start.
func seekJournal(b *testing.B, vol ports.Volume, segs int) (int, time.Time) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start
	w, err := journal.OpenWriter(vol, codecs.Raw{}, journal.WithSegmentSize(16384), journal.WithPretouch(false),
		journal.WithClock(func() time.Time { now = now.Add(time.Microsecond); return now }))
	if err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, 40)
	n := 0
	for w.Segment() < uint64(segs-1) {
		if _, err := w.Write(msg); err != nil {
			b.Fatal(err)
		}
		n++
	}
	w.Close()
	return n, start
}

// BenchmarkSeek seeks to random records of a 1,000-segment journal.
func BenchmarkSeek(b *testing.B) {
	for name, mk := range benchVolumes(b) {
		vol := mk()
		n, start := seekJournal(b, vol, 1000)
		r, err := journal.OpenReader(vol)
		if err != nil {
			b.Fatal(err)
		}
		rnd := rand.New(rand.NewSource(1))
		b.Run(name+"/seq", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if err := r.SeekSeq(uint64(rnd.Intn(n))); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/time", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if err := r.SeekTime(start.Add(time.Duration(rnd.Intn(n)) * time.Microsecond)); err != nil {
					b.Fatal(err)
				}
			}
		})
		r.Close()
	}
}

// BenchmarkCommit is a named reader's Commit.
func BenchmarkCommit(b *testing.B) {
	stores := map[string]func() journal.Positions{
		"memory": func() journal.Positions { return positions.NewMemory() },
	}
	if runtime.GOOS == "linux" {
		stores["mmap"] = func() journal.Positions { return positions.NewMapped(benchDir(b)) }
	}
	for name, mk := range stores {
		b.Run(name, func(b *testing.B) {
			vol := memory.NewVolume()
			w, _ := journal.OpenWriter(vol, codecs.Raw{})
			w.Write([]byte("x"))
			r, err := journal.OpenReader(vol, journal.WithName(mk(), fmt.Sprintf("bench-%s", name)))
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			r.Read(func(journal.Record) error { return nil }, 1)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := r.Commit(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWriteLatency reports the distribution of one Write's time
// across many rolls (1 MiB segments, or KEKBIT_JOURNAL_SEGMENT bytes;
// 72-byte payloads; KEKBIT_JOURNAL_KEEP=N: retention of N segments, their
// files recycled, WithRecycle): p50, p99, p99.99 and the largest, in ns,
// and with -v a histogram (log2 buckets). The clock reads add about 20-40
// ns to each. KEKBIT_JOURNAL_COARSE=1ms stamps the records from the
// coarse clock (WithCoarseClock).
func BenchmarkWriteLatency(b *testing.B) {
	seg := uint32(1 << 20)
	if s := os.Getenv("KEKBIT_JOURNAL_SEGMENT"); s != "" {
		n, err := strconv.ParseUint(s, 0, 32)
		if err != nil {
			b.Fatal(err)
		}
		seg = uint32(n)
	}
	opts := []journal.Option{journal.WithSegmentSize(seg)}
	if s := os.Getenv("KEKBIT_JOURNAL_COARSE"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			b.Fatal(err)
		}
		opts = append(opts, journal.WithCoarseClock(d))
	}
	if s := os.Getenv("KEKBIT_JOURNAL_KEEP"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		opts = append(opts, journal.WithRetention(journal.Retention{MaxSegments: n}), journal.WithRecycle(true))
	}
	for name, mk := range benchVolumes(b) {
		b.Run(name, func(b *testing.B) {
			w, err := journal.OpenWriter(mk(), codecs.Raw{}, opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			msg := make([]byte, 72)
			lat := make([]int64, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if _, err := w.Write(msg); err != nil {
					b.Fatal(err)
				}
				lat[i] = int64(time.Since(t0))
			}
			b.StopTimer()
			b.Logf("%d records, %d rolls, %d recycled; per-record time:\n%s", b.N, w.Segment(), w.Recycled(), histogram(lat))
			slices.Sort(lat)
			at := func(q float64) float64 { return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))]) }
			b.ReportMetric(at(0.5), "p50-ns")
			b.ReportMetric(at(0.99), "p99-ns")
			b.ReportMetric(at(0.9999), "p99.99-ns")
			b.ReportMetric(float64(lat[len(lat)-1]), "max-ns")
			b.ReportMetric(float64(w.Segment()), "rolls")
		})
	}
}

// histogram prints how many of lat (ns) fall in each power-of-two bucket.
func histogram(lat []int64) string {
	var counts [64]int
	top := 0
	for _, v := range lat {
		k := 0
		for v > 1 {
			v >>= 1
			k++
		}
		counts[k]++
		top = max(top, k)
	}
	out := ""
	for k := 0; k <= top; k++ {
		if counts[k] != 0 {
			out += fmt.Sprintf("  %9d-%9d ns %10d\n", int64(1)<<k, int64(1)<<(k+1)-1, counts[k])
		}
	}
	return out
}
