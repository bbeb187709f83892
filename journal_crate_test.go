package kekbit_test

import (
	"encoding/binary"
	"os"
	"runtime"
	"testing"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/journal"
)

// TestCrateReadsJournalSegments: every segment of a journal reads in the
// crate's view as a plain channel, closed, whose messages are the records
// with their envelope in front (sequence numbers counting across the
// segments) and the user's bytes after it.
func TestCrateReadsJournalSegments(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the mmap backend runs on Linux only")
	}
	vol := mmap.NewVolume(t.TempDir())
	w, err := journal.OpenWriter(vol, codecs.Raw{}, journal.WithSegmentSize(16384))
	if err != nil {
		t.Fatal(err)
	}
	payload := func(i int) []byte { return []byte{byte(i), byte(i >> 8), 'j', 'o', 'u', 'r', 'n', 'a', 'l'}[:3+i%6] }
	const n = 2000
	for i := 0; i < n; i++ {
		if _, err := w.Write(payload(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	ids, _ := vol.List()
	if len(ids) < 3 {
		t.Fatalf("%d segments", len(ids))
	}
	seq := 0
	for _, id := range ids {
		img, err := os.ReadFile(vol.Path(id))
		if err != nil {
			t.Fatal(err)
		}
		c := crateRead(t, img)
		if c.final != "Closed" {
			t.Fatalf("segment %d ends %q in the crate's view", id, c.final)
		}
		for _, m := range c.msgs {
			b := m.Bytes()
			if len(b) < 24 || binary.LittleEndian.Uint64(b[8:]) != uint64(seq) || string(b[24:]) != string(payload(seq)) {
				t.Fatalf("segment %d at %d: the crate sees % x, want seq %d then %q", id, m.Pos, b, seq, payload(seq))
			}
			seq++
		}
	}
	if seq != n {
		t.Fatalf("the crate's view holds %d records, want %d", seq, n)
	}
}
