package journal_test

import (
	"context"
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/journal"
	"github.com/kekbit-go/kekbit/journal/positions"
)

func recycleVolume(t *testing.T) *mmap.Volume {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("segments are recycled on Linux only (file leases)")
	}
	return mmap.NewVolume(tempDir(t))
}

// TestRecycle: with retention and WithRecycle, rolls go into the files of
// the segments retention dropped, and what is left reads as written: the
// old records past each new segment's writer are never read.
func TestRecycle(t *testing.T) {
	vol := recycleVolume(t)
	w := openWriter(t, vol, journal.WithRetention(journal.Retention{MaxSegments: 3}), journal.WithRecycle(true))
	const n = 6000
	write(t, w, 0, n)
	if w.Recycled() == 0 {
		t.Fatalf("%d rolls, none into a recycled segment", w.Segment())
	}
	// The writer keeps the mappings of passed segments for recycling,
	// never one of a removed segment.
	w.Flush()
	if m := settledMappings(t, vol.Root()); m != "" {
		t.Fatalf("mappings of removed segments while writing:\n%s", m)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if m := removedMappings(t, vol.Root()); m != "" {
		t.Fatalf("mappings of removed segments after Close:\n%s", m)
	}
	ids, err := vol.List()
	if err != nil || len(ids) > 3 {
		t.Fatalf("segments %v (%v), want 3 at most", ids, err)
	}
	r, err := journal.OpenReader(vol)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	first := -1
	_, err = r.Read(func(rec journal.Record) error {
		if first < 0 {
			first = int(rec.Seq)
		}
		if want := payload(int(rec.Seq)); string(rec.Payload) != string(want) {
			t.Fatalf("record %d: %q, want %q", rec.Seq, rec.Payload, want)
		}
		return nil
	}, 0)
	if err != journal.ErrClosed {
		t.Fatalf("read ended with %v, want ErrClosed", err)
	}
	if n, err := readAll(t, r, n); n != 0 || err != journal.ErrClosed {
		t.Fatalf("after the end: %d %v", n, err)
	}
	if first <= 0 {
		t.Fatalf("first record %d: retention dropped nothing", first)
	}
	t.Logf("%d rolls, %d recycled; kept from seq %d", w.Segment(), w.Recycled(), first)
}

// TestRecycleWhileFollowed: a named reader following the journal in this
// process (retention waits for it) sees every record once, in order, while
// the writer recycles what it passed; a segment it still holds is removed,
// not recycled.
func TestRecycleWhileFollowed(t *testing.T) {
	vol := recycleVolume(t)
	pos := positions.NewMemory()
	w := openWriter(t, vol, journal.WithRetention(journal.Retention{MaxSegments: 4}), journal.WithRecycle(true), journal.WithPositions(pos))
	r, err := journal.OpenReader(vol, journal.WithName(pos, "follower"), journal.WithAutoCommit())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	const n = 20000
	done := make(chan error, 1)
	go func() {
		i := 0
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		err := r.Follow(ctx, func(rec journal.Record) error {
			if rec.Seq != uint64(i) || string(rec.Payload) != string(payload(i)) {
				return errors.New("record out of order or damaged")
			}
			i++
			return nil
		})
		if err == journal.ErrClosed && i == n {
			err = nil
		}
		done <- err
	}()
	for i := 0; i < n; i++ {
		if _, err := w.Write(payload(i)); err != nil {
			t.Fatal(err)
		}
		if i%50 == 0 {
			time.Sleep(20 * time.Microsecond) // let the reader keep up, mostly
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("follow: %v", err)
	}
	t.Logf("%d rolls, %d recycled", w.Segment(), w.Recycled())
}

// TestRecycleCrashStates: a writer killed at any step of a recycle leaves
// a journal that opens and reads: before the rename (the new segment's
// lock file of a dead creator, the old segment intact) and after it (the
// new segment's file, holding the old bytes, with that lock file; the old
// one gone).
func TestRecycleCrashStates(t *testing.T) {
	for _, state := range []string{"lock file", "renamed", "renamed and header cleared"} {
		t.Run(state, func(t *testing.T) {
			vol := recycleVolume(t)
			w := openWriter(t, vol)
			write(t, w, 0, 800)
			last := w.Segment()
			if last < 3 {
				t.Fatalf("only %d segments", last+1)
			}
			w.Release()
			next := vol.Path(last + 1)
			lock := next[:len(next)-len(".kekbit")] + ".lock"
			if err := os.WriteFile(lock, nil, 0o644); err != nil { // its creator died: no lock on it
				t.Fatal(err)
			}
			from := int(0)
			if state != "lock file" {
				if err := os.Rename(vol.Path(0), next); err != nil {
					t.Fatal(err)
				}
				from = 1
			}
			if state == "renamed and header cleared" {
				f, err := os.OpenFile(next, os.O_RDWR, 0)
				if err != nil {
					t.Fatal(err)
				}
				f.WriteAt(make([]byte, domain.DataOffset), 0)
				f.Close()
			}
			w = openWriter(t, vol)
			if w.Segment() != last || w.NextSeq() != 800 {
				t.Fatalf("reopened at segment %d seq %d, want %d 800", w.Segment(), w.NextSeq(), last)
			}
			write(t, w, 800, 900)
			w.Close()
			r, err := journal.OpenReader(vol)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			ids, _ := vol.List()
			if ids[0] != uint64(from) {
				t.Fatalf("segments %v, want from %d", ids, from)
			}
			var start int
			r.Read(func(rec journal.Record) error { start = int(rec.Seq); return errStopTest }, 1)
			if err := r.MoveTo(journal.MakePosition(ids[0], 0)); err != nil {
				t.Fatal(err)
			}
			if n, err := readAll(t, r, start); err != journal.ErrClosed || start+n != 900 {
				t.Fatalf("read %d from %d: %v", n, start, err)
			}
		})
	}
}

var errStopTest = errors.New("stop")

// settledMappings is removedMappings once the writer's background work
// (the last roll's close and retention pass, a prepare's recycling) has
// had its chance: it looks again, for up to 5 s, while any such mapping
// shows, and returns what still shows then. A mapping that is only in the
// middle of being released goes; one that a writer keeps stays.
func settledMappings(t *testing.T, dir string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		m := removedMappings(t, dir)
		if m == "" || time.Now().After(deadline) {
			return m
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// removedMappings returns the lines of /proc/self/maps that map a removed
// file under dir.
func removedMappings(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	out := ""
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, dir) && strings.HasSuffix(l, "(deleted)") {
			out += l + "\n"
		}
	}
	return out
}

// TestRecycleSpareHeld: a segment a reader holds (here, in this process)
// is removed, not recycled: the reader reads it to its end intact while
// the writer has rolled far past it, and then learns it was pruned.
func TestRecycleSpareHeld(t *testing.T) {
	vol := recycleVolume(t)
	w := openWriter(t, vol, journal.WithRetention(journal.Retention{MaxSegments: 2}), journal.WithRecycle(true))
	write(t, w, 0, 10)
	r, err := journal.OpenReader(vol) // holds segment 0
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	write(t, w, 10, 3000)
	if w.Recycled() == 0 {
		t.Fatal("nothing recycled")
	}
	ids, _ := vol.List()
	if ids[0] == 0 {
		t.Fatalf("segment 0 kept: %v", ids)
	}
	n, err := readAll(t, r, 0)
	if n == 0 || !errors.Is(err, journal.ErrPruned) {
		t.Fatalf("read %d of segment 0, then %v; want its records, then ErrPruned", n, err)
	}
	w.Close()
}
