package journal_test

import (
	"errors"
	"testing"

	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/journal"
	"github.com/kekbit-go/kekbit/journal/positions"
	"github.com/kekbit-go/kekbit/ports"
)

// recordBytes is the data region record i of payload takes.
func recordBytes(i int) uint64 { return domain.RecordSize(uint64(len(payload(i))) + 24) }

// TestLagNothingOpen: a named reader whose stored position is the start
// of a segment not made yet (it has no segment open) is caught up; Lag
// counted every record of the journal as ahead of it.
func TestLagNothingOpen(t *testing.T) {
	forBackends(t, func(t *testing.T, name string, vol ports.Volume) {
		w := openWriter(t, vol)
		write(t, w, 0, 300) // a few segments
		last := w.Segment()
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		pos := positions.NewMemory()
		c, err := pos.Open("r")
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Store(journal.Mark{Journal: w.JournalID(), Position: journal.MakePosition(last+1, 0)}); err != nil {
			t.Fatal(err)
		}
		c.Close()
		r, err := journal.OpenReader(vol, journal.WithName(pos, "r"))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if lag, err := r.Lag(); err != nil || lag != (journal.Lag{}) {
			t.Fatalf("lag of a reader past the end: %+v %v, want none", lag, err)
		}
		if lag, err := journal.LagAt(vol, journal.MakePosition(last+1, 0)); err != nil || lag != (journal.Lag{}) {
			t.Fatalf("LagAt past the end: %+v %v, want none", lag, err)
		}
	})
}

// TestLagUnclosedMiddle: a segment left open by a writer that died inside
// a roll counts with the bytes written in it, not 0.
func TestLagUnclosedMiddle(t *testing.T) {
	forBackends(t, func(t *testing.T, name string, vol ports.Volume) {
		w := openWriter(t, vol)
		ps := write(t, w, 0, 10)
		if w.Segment() != 0 {
			t.Fatalf("segment %d", w.Segment())
		}
		w.Release()
		// Segment 1, ready, with 5 records, as the roll makes it; segment
		// 0 left open.
		dw := makeSegment(t, vol, w.JournalID(), 1, 10)
		want := 2 * ps[0].Offset() // each segment starts with a heartbeat
		for i := 0; i < 15; i++ {
			want += recordBytes(i)
		}
		for i := 10; i < 15; i++ {
			if _, err := dw.Write(payload(i)); err != nil {
				t.Fatal(err)
			}
		}
		defer dw.Release()
		r, err := journal.OpenReader(vol)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if lag, err := r.Lag(); err != nil || lag.Records != 15 || lag.Bytes != want {
			t.Fatalf("lag: %+v %v, want 15 records %d bytes", lag, err, want)
		}
		if lag, err := journal.LagAt(vol, journal.MakePosition(0, 0)); err != nil || lag.Records != 15 || lag.Bytes != want {
			t.Fatalf("LagAt: %+v %v, want 15 records %d bytes", lag, err, want)
		}
		r.Read(func(journal.Record) error { return nil }, 3)
		want -= ps[0].Offset() + recordBytes(0) + recordBytes(1) + recordBytes(2)
		if lag, err := r.Lag(); err != nil || lag.Records != 12 || lag.Bytes != want {
			t.Fatalf("lag after 3: %+v %v, want 12 records %d bytes", lag, err, want)
		}
	})
}

// TestLagAgrees: Reader.Lag and LagAt give the same lag at every record of
// a journal of several segments, and LagAt names a removed segment.
func TestLagAgrees(t *testing.T) {
	forBackends(t, func(t *testing.T, name string, vol ports.Volume) {
		w := openWriter(t, vol)
		ps := write(t, w, 0, 400)
		r, err := journal.OpenReader(vol)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		for i, p := range ps {
			if i%7 != 0 {
				continue
			}
			if err := r.MoveTo(p); err != nil {
				t.Fatal(err)
			}
			a, err := r.Lag()
			if err != nil {
				t.Fatal(err)
			}
			b, err := journal.LagAt(vol, p)
			if err != nil {
				t.Fatal(err)
			}
			if a != b || a.Records != uint64(400-i) {
				t.Fatalf("record %d at %v: Reader.Lag %+v, LagAt %+v, want %d records", i, p, a, b, 400-i)
			}
		}
		if _, err := journal.Prune(vol, nil, journal.Retention{MaxSegments: 1, Force: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := journal.LagAt(vol, ps[0]); !errors.Is(err, journal.ErrPruned) {
			t.Fatalf("LagAt of a removed segment: %v", err)
		}
		w.Close()
	})
}

// makeSegment makes segment seg of journal id, ready, with sequence base
// base and a 16 KiB data region, as a roll makes it, and returns its
// writer.
func makeSegment(t *testing.T, vol ports.Volume, id domain.JournalID, seg, base uint64) *domain.Writer[[]byte] {
	t.Helper()
	h, err := domain.NewHeader(domain.Hints{ChannelID: seg, Capacity: 16384, MaxMsgLen: ^uint32(0), TickUnit: domain.Nanos, Envelope: domain.EnvelopeAll, SeqBase: base})
	if err != nil {
		t.Fatal(err)
	}
	h.JournalID, h.Segment = id, seg
	dw, err := domain.Create(vol, h, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	return dw
}
