package journal_test

import (
	"fmt"

	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/journal"
	"github.com/kekbit-go/kekbit/journal/positions"
)

// A journal in memory: the writer rolls over 16 KiB segments, a reader
// reads across them, and a named reader resumes after its last commit.
func Example() {
	vol := memory.NewVolume() // mmap.NewVolume(dir) for files shared between processes
	w, err := journal.OpenWriter(vol, codecs.Text{}, journal.WithSegmentSize(16384))
	if err != nil {
		panic(err)
	}
	for i := 0; i < 1000; i++ {
		if _, err := w.Write(fmt.Sprintf("order %d", i)); err != nil {
			panic(err)
		}
	}
	fmt.Println("segments:", w.Segment()+1)

	readers := positions.NewMemory()
	r, _ := journal.OpenReader(vol, journal.WithName(readers, "billing"))
	r.Read(func(rec journal.Record) error { return nil }, 600)
	r.Commit() // after the work on the first 600
	r.Close()

	// Started again, "billing" goes on with record 600.
	r, _ = journal.OpenReader(vol, journal.WithName(readers, "billing"))
	defer r.Close()
	r.Read(func(rec journal.Record) error {
		fmt.Printf("seq %d at %v: %s\n", rec.Seq, rec.Position, rec.Payload)
		return nil
	}, 1)
	lag, _ := r.Lag()
	fmt.Println("behind by", lag.Records, "records")

	w.Close() // ends the journal
	_, err = r.Read(func(journal.Record) error { return nil }, 0)
	fmt.Println(err == journal.ErrClosed)
	// Output:
	// segments: 3
	// seq 600 at 1:11672: order 600
	// behind by 399 records
	// true
}
