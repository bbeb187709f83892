package journal_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/journal"
	"github.com/kekbit-go/kekbit/ports"
)

// TestPreparedSegmentInvisible: past half of a segment the next one
// exists but is not ready (readers cannot open it, List does not show it)
// until the roll.
func TestPreparedSegmentInvisible(t *testing.T) {
	forBackends(t, func(t *testing.T, name string, vol ports.Volume) {
		w := openWriter(t, vol)
		defer w.Close()
		i := 0
		for w.Position().Offset() < 12000 {
			write(t, w, i, i+1)
			i++
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, err := vol.Open(1)
			if errors.Is(err, ports.ErrChannelNotReady) {
				break
			}
			if !errors.Is(err, ports.ErrChannelNotFound) || time.Now().After(deadline) {
				t.Fatalf("segment 1 while segment 0 is being written: %v, want not ready", err)
			}
			time.Sleep(time.Millisecond)
		}
		if ids, _ := vol.List(); len(ids) != 1 {
			t.Fatalf("List shows the prepared segment: %v", ids)
		}
		for w.Segment() == 0 {
			write(t, w, i, i+1)
			i++
		}
		st, err := vol.Open(1)
		if err != nil {
			t.Fatalf("segment 1 after the roll: %v", err)
		}
		st.Close()
		if _, _, ok := domain.ReadTrailer(mustOpen(t, vol, 0)); !ok {
			t.Fatal("segment 0 not closed after the roll")
		}
	})
}

func mustOpen(t *testing.T, vol ports.Volume, id uint64) ports.Storage {
	t.Helper()
	st, err := vol.Open(id)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestKeepWaiting: a reader told to keep waiting goes on when the closed
// journal is opened again.
func TestKeepWaiting(t *testing.T) {
	forBackends(t, func(t *testing.T, name string, vol ports.Volume) {
		w := openWriter(t, vol)
		write(t, w, 0, 50)
		w.Close()
		r, err := journal.OpenReader(vol, journal.WithKeepWaiting())
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		got := make(chan uint64, 200)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() {
			done <- r.Follow(ctx, func(rec journal.Record) error { got <- rec.Seq; return nil })
		}()
		for i := 0; i < 50; i++ {
			if s := <-got; s != uint64(i) {
				t.Fatalf("record %d has seq %d", i, s)
			}
		}
		select {
		case err := <-done:
			t.Fatalf("Follow ended at the close: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		w = openWriter(t, vol)
		write(t, w, 50, 60)
		for i := 50; i < 60; i++ {
			select {
			case s := <-got:
				if s != uint64(i) {
					t.Fatalf("after the reopen: seq %d, want %d", s, i)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the waiting reader did not see the reopened journal")
			}
		}
		w.Close()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Follow: %v", err)
		}
	})
}

// TestTornTailRepaired: a journal whose writer died with a damaged last
// record is repaired on open: the good records stay, the torn one goes,
// and the journal goes on after them.
func TestTornTailRepaired(t *testing.T) {
	forBackends(t, func(t *testing.T, name string, vol ports.Volume) {
		w := openWriter(t, vol)
		ps := write(t, w, 0, 300)
		w.Release() // as a dead writer leaves it
		last := ps[len(ps)-1]
		// Damage the last record's payload.
		st, err := vol.(ports.WriteOpener).OpenForWrite(last.Segment())
		if err != nil {
			t.Fatal(err)
		}
		off := int64(domain.DataOffset + last.Offset() + 8 + 24 + 3)
		st.WriteAt([]byte{0xEE}, off)
		st.Close()
		w = openWriter(t, vol)
		if w.Dropped() == 0 || w.NextSeq() != 299 {
			t.Fatalf("repaired: dropped %d next %d, want > 0 and 299", w.Dropped(), w.NextSeq())
		}
		write(t, w, 299, 400)
		w.Close()
		r, _ := journal.OpenReader(vol)
		defer r.Close()
		if n, err := readAll(t, r, 0); n != 400 || err != journal.ErrClosed {
			t.Fatalf("read %d, %v", n, err)
		}
	})
}

// TestDeadCreatorRemoved: a segment whose creator died before it was ready
// (its lock file left, nobody holding it) is removed and made again.
func TestDeadCreatorRemoved(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the mmap backend runs on Linux only")
	}
	dir := tempDir(t)
	vol := mmap.NewVolume(dir)
	w := openWriter(t, vol)
	write(t, w, 0, 10)
	w.Release()
	path := vol.Path(1)
	if err := os.WriteFile(path, make([]byte, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), "0000_0001.lock"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := journal.OpenWriter(vol, codecs.Raw{}, journal.WithSegmentSize(16384))
	if err != nil {
		t.Fatalf("open with a dead creator's segment: %v", err)
	}
	write(t, w, 10, 1000)
	w.Close()
	r, _ := journal.OpenReader(vol)
	defer r.Close()
	if n, err := readAll(t, r, 0); n != 1000 || err != journal.ErrClosed {
		t.Fatalf("read %d, %v", n, err)
	}
}

// TestSegmentOfAnotherJournal: a reader refuses a segment whose journal id
// is not the one it follows.
func TestSegmentOfAnotherJournal(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the mmap backend runs on Linux only")
	}
	a, b := tempDir(t), tempDir(t)
	wa := openWriter(t, mmap.NewVolume(a))
	write(t, wa, 0, 10)
	wa.Close()
	wb := openWriter(t, mmap.NewVolume(b))
	for wb.Segment() == 0 {
		write(t, wb, 0, 1)
	}
	wb.Close()
	// Segment 1 of a comes from b.
	src, err := os.ReadFile(mmap.NewVolume(b).Path(1))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := journal.OpenReader(mmap.NewVolume(a))
	defer r.Close()
	p := mmap.NewVolume(a).Path(1)
	if err := os.WriteFile(p, src, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = readAll(t, r, 0)
	var je *journal.JournalIDError
	if !errors.As(err, &je) || je.Want != wa.JournalID() || je.Got != wb.JournalID() {
		t.Fatalf("foreign segment: %v", err)
	}
}

// TestDiedInsideRoll: a writer that died after making the next segment
// ready and before closing the current one left it open; the next writer
// closes it, so readers go on past it.
func TestDiedInsideRoll(t *testing.T) {
	forBackends(t, func(t *testing.T, name string, vol ports.Volume) {
		w := openWriter(t, vol)
		write(t, w, 0, 10)
		w.Release()
		// Segment 1, ready, as the roll makes it, with segment 0 left open.
		dw := makeSegment(t, vol, w.JournalID(), 1, 10)
		dw.Release()
		r, _ := journal.OpenReader(vol)
		defer r.Close()
		if n, err := readAll(t, r, 0); n != 10 || err != journal.ErrNothingYet {
			t.Fatalf("before: %d %v", n, err)
		}
		w = openWriter(t, vol)
		if w.Segment() != 1 || w.NextSeq() != 10 {
			t.Fatalf("writer at segment %d seq %d", w.Segment(), w.NextSeq())
		}
		write(t, w, 10, 20)
		w.Close()
		if n, err := readAll(t, r, 10); n != 10 || err != journal.ErrClosed {
			t.Fatalf("after: %d %v", n, err)
		}
	})
}
