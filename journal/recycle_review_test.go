package journal_test

import (
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/journal"
	"github.com/kekbit-go/kekbit/journal/positions"
)

// TestRecycleGrowSegment: a journal whose writer died, reopened with a
// larger segment size, retention and WithRecycle, goes on: the resumed
// small segment's kept storage is not recycled into a larger segment
// (before, its recycle failed after its init took the sequence base, and
// the fresh segment's init waited for a base that never came: Write hung
// for ever at the roll).
func TestRecycleGrowSegment(t *testing.T) {
	vol := recycleVolume(t)
	w1, err := journal.OpenWriter(vol, codecs.Raw{}, journal.WithSegmentSize(16384))
	if err != nil {
		t.Fatal(err)
	}
	write(t, w1, 0, 1000)
	w1.Release() // as a kill leaves it
	w2, err := journal.OpenWriter(vol, codecs.Raw{}, journal.WithSegmentSize(65536),
		journal.WithRetention(journal.Retention{MaxSegments: 2}), journal.WithRecycle(true))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	var at int
	go func() {
		for i := 1000; i < 20000; i++ {
			at = i
			if _, err := w2.Write(payload(i)); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("recycled %d", w2.Recycled())
		if err := w2.Close(); err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		var keep []string
		for _, g := range strings.Split(string(buf[:n]), "\n\n") {
			if strings.Contains(g, "journal.") {
				keep = append(keep, g)
			}
		}
		t.Fatalf("Write of record %d hangs (segment %d)\n%s", at, w2.Segment(), strings.Join(keep, "\n\n"))
	}
}

// TestRecycleSpareKeptForNamedReader: the spare (dropped by retention,
// kept listed for the next prepare) is visible to a new named reader,
// which starts at it and stores its position there; Close leaves it for
// that reader (before, Close removed it without asking the positions and
// the reader's next open was ErrPruned).
func TestRecycleSpareKeptForNamedReader(t *testing.T) {
	vol := recycleVolume(t)
	pos := positions.NewMemory()
	w := openWriter(t, vol, journal.WithRetention(journal.Retention{MaxSegments: 2}),
		journal.WithRecycle(true), journal.WithPositions(pos))
	i := 0
	for w.Segment() < 4 {
		write(t, w, i, i+1)
		i++
	}
	w.Flush() // the roll's background pass is done
	ids, _ := vol.List()
	r, err := journal.OpenReader(vol, journal.WithName(pos, "late"))
	if err != nil {
		t.Fatal(err)
	}
	m, _, _ := pos.Load("late")
	r.Close() // it stops before reading (a restart, say)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	after, _ := vol.List()
	t.Logf("segments when the reader came %v; its stored position %v; after Close %v", ids, m.Position, after)
	r, err = journal.OpenReader(vol, journal.WithName(pos, "late"))
	if err != nil {
		if errors.Is(err, journal.ErrPruned) {
			t.Fatalf("named reader's segment was removed by Close: %v", err)
		}
		t.Fatal(err)
	}
	defer r.Close()
	n, err := r.Read(func(journal.Record) error { return nil }, 0)
	if errors.Is(err, journal.ErrPruned) {
		t.Fatalf("after %d records: named reader's segment removed: %v", n, err)
	}
	if n == 0 || !errors.Is(err, journal.ErrClosed) {
		t.Fatalf("read %d records: %v, want them all and ErrClosed", n, err)
	}
}
