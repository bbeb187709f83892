package journal_test

import (
	"strings"
	"testing"

	"github.com/kekbit-go/kekbit/journal"
)

// TestRecycleExternalPrune: journal.Prune (on demand, "kekbit journal
// prune") while a recycling writer runs: the writer's kept mappings of the
// segments Prune removed are released at its next roll (before, they
// stayed until Close).
func TestRecycleExternalPrune(t *testing.T) {
	vol := recycleVolume(t)
	w := openWriter(t, vol, journal.WithRetention(journal.Retention{MaxSegments: 50}), journal.WithRecycle(true))
	write(t, w, 0, 3000) // ~15 segments of 16 KiB
	w.Flush()
	removed, err := journal.Prune(vol, nil, journal.Retention{MaxSegments: 2})
	if err != nil {
		t.Fatal(err)
	}
	write(t, w, 3000, 20000)
	w.Flush()
	m := settledMappings(t, vol.Root())
	t.Logf("Prune removed %v; writer at segment %d, recycled %d", removed, w.Segment(), w.Recycled())
	if m != "" {
		t.Errorf("%d mappings of removed segments held by the live writer:\n%s", strings.Count(m, "\n"), m)
	}
	w.Close()
	if m := removedMappings(t, vol.Root()); m != "" {
		t.Errorf("after Close:\n%s", m)
	}
}

// TestRecyclePrepareAtZero: with MaxSegments 1 and WithPrepareAt(0) the
// prepare's own retention pass can remove the segment just passed before
// the roll's background goroutine keeps its storage; that mapping is
// released at once (before, 8 such mappings stayed until Close).
func TestRecyclePrepareAtZero(t *testing.T) {
	vol := recycleVolume(t)
	w := openWriter(t, vol, journal.WithRetention(journal.Retention{MaxSegments: 1}), journal.WithRecycle(true), journal.WithPrepareAt(0))
	write(t, w, 0, 40000)
	w.Flush()
	m := settledMappings(t, vol.Root())
	t.Logf("writer at segment %d, recycled %d", w.Segment(), w.Recycled())
	if m != "" {
		t.Errorf("%d mappings of removed segments held by the live writer:\n%s", strings.Count(m, "\n"), m)
	}
	w.Close()
}
