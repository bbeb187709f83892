package journal_test

import (
	"context"
	"errors"
	"testing"

	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/journal"
	"github.com/kekbit-go/kekbit/journal/positions"
	"github.com/kekbit-go/kekbit/ports"
)

// TestIteratorsAndAutoCommit: Records and FollowRecords hand out the same
// records as Read; breaking out of the loop leaves the reader after the
// last record yielded, and an auto-committing reader has committed it.
func TestIteratorsAndAutoCommit(t *testing.T) {
	forBackends(t, func(t *testing.T, name string, vol ports.Volume) {
		w := openWriter(t, vol)
		write(t, w, 0, 700)
		pos := positions.NewMemory()
		r, err := journal.OpenReader(vol, journal.WithName(pos, "it"), journal.WithAutoCommit())
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rec := range r.Records() {
			if rec.Seq != uint64(n) || string(rec.Payload) != string(payload(n)) {
				t.Fatalf("Records: record %d has seq %d", n, rec.Seq)
			}
			if n++; n == 450 {
				break
			}
		}
		if r.Err() != nil {
			t.Fatalf("Err after break: %v", r.Err())
		}
		r.Close()
		if m, ok, _ := pos.Load("it"); !ok || m.Position == 0 {
			t.Fatalf("auto-commit stored %+v %v", m, ok)
		}
		r, err = journal.OpenReader(vol, journal.WithName(pos, "it"), journal.WithAutoCommit())
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		w.Close()
		for rec := range r.FollowRecords(context.Background()) {
			if rec.Seq != uint64(n) {
				t.Fatalf("FollowRecords after the restart: seq %d, want %d", rec.Seq, n)
			}
			n++
		}
		if n != 700 || !errors.Is(r.Err(), journal.ErrClosed) {
			t.Fatalf("FollowRecords ended after %d with %v", n, r.Err())
		}
		if _, err := w.Write([]byte("late")); !errors.Is(err, journal.ErrWriterClosed) {
			t.Fatalf("Write after Close: %v", err)
		}
	})
}

// TestTooLargeDoesNotRoll: a record above the max record length is
// refused without a roll; a handler's error stops a read after the record
// it refused.
func TestTooLargeDoesNotRoll(t *testing.T) {
	vol := backends(t)["memory"](t)
	w := openWriter(t, vol)
	defer w.Close()
	write(t, w, 0, 3)
	if _, err := w.Write(make([]byte, 200)); !errors.Is(err, domain.ErrRecordTooLarge) {
		t.Fatalf("200 bytes in a 16 KiB segment: %v", err)
	}
	if _, err := w.Write(nil); !errors.Is(err, domain.ErrEmptyPayload) {
		t.Fatalf("empty payload: %v", err)
	}
	if w.Segment() != 0 || w.NextSeq() != 3 {
		t.Fatalf("after refusals: segment %d next %d", w.Segment(), w.NextSeq())
	}
	r, _ := journal.OpenReader(vol)
	defer r.Close()
	stop := errors.New("stop")
	n, err := r.Read(func(rec journal.Record) error {
		if rec.Seq == 1 {
			return stop
		}
		return nil
	}, 0)
	if n != 2 || err != stop {
		t.Fatalf("read %d, %v", n, err)
	}
	if got, _ := readAll(t, r, 2); got != 1 {
		t.Fatalf("after the handler's error the reader went on with %d records, want the 1 after", got)
	}
	if err := r.Commit(); !errors.Is(err, journal.ErrNoName) {
		t.Fatalf("Commit without a name: %v", err)
	}
	r.Close()
	if _, err := r.Read(func(journal.Record) error { return nil }, 0); !errors.Is(err, journal.ErrReaderClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
}
