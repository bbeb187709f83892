package journal_test

import (
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/journal"
	"github.com/kekbit-go/kekbit/ports"
)

// TestSeekEveryRecord: across a 1,000-segment journal, SeekSeq and
// SeekTime land on the right record, for every record (in order: the
// random-order cost is BenchmarkSeek's; every 13th under the race
// detector).
func TestSeekEveryRecord(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 1,000-segment journal")
	}
	forBackends(t, func(t *testing.T, name string, vol ports.Volume) {
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		now := start
		w, err := journal.OpenWriter(vol, codecs.Raw{}, journal.WithSegmentSize(16384), journal.WithPretouch(false),
			journal.WithClock(func() time.Time { now = now.Add(time.Microsecond); return now }))
		if err != nil {
			t.Fatal(err)
		}
		var positions []journal.Position
		msg := make([]byte, 40)
		for w.Segment() < 999 {
			p, err := w.Write(msg)
			if err != nil {
				t.Fatal(err)
			}
			positions = append(positions, p)
		}
		w.Close()
		r, err := journal.OpenReader(vol)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		var stamps []time.Time // each record's time, as a reader sees it
		r.Read(func(rec journal.Record) error { stamps = append(stamps, rec.Timestamp()); return nil }, 0)
		if len(stamps) != len(positions) {
			t.Fatalf("read %d records of %d", len(stamps), len(positions))
		}
		step := 1
		if raceEnabled {
			step = 13 // the race detector makes every seek ten times slower
		}
		var got journal.Record
		one := func() {
			if n, err := r.Read(func(rec journal.Record) error { got = rec; return nil }, 1); n != 1 {
				t.Fatalf("no record after the seek: %v", err)
			}
		}
		for i := 0; i < len(positions); i += step {
			if err := r.SeekSeq(uint64(i)); err != nil {
				t.Fatalf("SeekSeq(%d): %v", i, err)
			}
			one()
			if got.Seq != uint64(i) || got.Position != positions[i] {
				t.Fatalf("SeekSeq(%d): seq %d at %v, want at %v", i, got.Seq, got.Position, positions[i])
			}
			if err := r.SeekTime(stamps[i]); err != nil {
				t.Fatalf("SeekTime(record %d): %v", i, err)
			}
			one()
			if got.Seq != uint64(i) || !got.Timestamp().Equal(stamps[i]) {
				t.Fatalf("SeekTime(record %d's time): seq %d", i, got.Seq)
			}
		}
		t.Logf("%d records in 1,000 segments, every %d sought by sequence and by time", len(positions), step)
	})
}
