package journal_test

import (
	"testing"

	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/journal"
	"github.com/kekbit-go/kekbit/journal/positions"
	"github.com/kekbit-go/kekbit/ports"
)

// TestZeroAllocs: Write (between rolls), Read and Commit on the mapped
// positions allocate nothing.
func TestZeroAllocs(t *testing.T) {
	forBackends(t, func(t *testing.T, name string, vol ports.Volume) {
		w, err := journal.OpenWriter(vol, codecs.Raw{}, journal.WithSegmentSize(64<<20), journal.WithPrepareAt(1))
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		msg := make([]byte, 72)
		if n := testing.AllocsPerRun(1000, func() { w.Write(msg) }); n != 0 {
			t.Fatalf("Write: %v allocations per record", n)
		}
		var pos journal.Positions = positions.NewMemory()
		if name == "mmap" {
			pos = positions.NewMapped(tempDir(t))
		}
		r, err := journal.OpenReader(vol, journal.WithName(pos, "allocs"))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		handler := func(journal.Record) error { return nil }
		r.Read(handler, 1)
		r.Commit() // the first Commit writes the journal id
		if n := testing.AllocsPerRun(500, func() {
			if _, err := r.Read(handler, 1); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Fatalf("Read: %v allocations per record", n)
		}
		if name == "mmap" {
			if n := testing.AllocsPerRun(1000, func() { r.Commit() }); n != 0 {
				t.Fatalf("Commit: %v allocations", n)
			}
		}
	})
}
