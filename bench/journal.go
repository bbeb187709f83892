package bench

import (
	"context"
	"fmt"
	"io"
	"math/bits"
	"os"
	"path/filepath"
	"time"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/journal"
	"github.com/kekbit-go/kekbit/journal/positions"
)

// journalWriter writes N records through a journal of segments of
// j.Capacity bytes in j.Dir, the journal pretouching each next segment
// ahead of need; timing starts once the parent says go.
func (j job) journalWriter(in io.Reader, out io.Writer) (report, error) {
	var r report
	opts := []journal.Option{journal.WithSegmentSize(j.Capacity), journal.WithMaxPayload(uint32(j.Size)), journal.WithPretouch(true)}
	if j.CoarseClock != 0 {
		opts = append(opts, journal.WithCoarseClock(j.CoarseClock))
	}
	if j.JournalKeep > 0 {
		// Retention waits for the readers, named ones (journalReader).
		opts = append(opts, journal.WithRetention(journal.Retention{MaxSegments: j.JournalKeep}), journal.WithRecycle(true),
			journal.WithPositions(positions.NewMapped(filepath.Join(j.Dir, "readers"))))
	}
	w, err := journal.OpenWriter(mmap.NewVolume(j.Dir), codecs.Raw{}, opts...)
	if err != nil {
		return r, err
	}
	defer w.Close()
	say(out, sigReady)
	if err := waitGo(in); err != nil {
		return r, err
	}
	write := w.Write
	var hist [64]uint64
	if j.JournalHist {
		write = func(p []byte) (journal.Position, error) {
			t0 := time.Now()
			pos, err := w.Write(p)
			hist[bits.Len64(uint64(time.Since(t0)))]++
			return pos, err
		}
	}
	r.Start = time.Now().UnixNano()
	if err := writeAll(j, write); err != nil {
		return r, err
	}
	if j.JournalHist {
		top := len(hist)
		for top > 0 && hist[top-1] == 0 {
			top--
		}
		r.Hist = hist[:top]
	}
	r.End, r.Records = time.Now().UnixNano(), j.N
	r.Rolls, r.Recycled = int(w.Segment()), int(w.Recycled())
	return r, w.Close()
}

// journalReader follows the journal across its segments and checks every
// record's sequence number and length.
func (j job) journalReader(ctx context.Context, out io.Writer) (report, error) {
	var r report
	say(out, sigWaiting)
	opts := []journal.Option{journal.WithWait(domain.Wait{Spins: -1, Pause: j.Pause})}
	if j.JournalKeep > 0 {
		// A named reader, which commits its position every 64Ki records
		// (a store to a mapped word): retention keeps what it has not read.
		opts = append(opts, journal.WithName(positions.NewMapped(filepath.Join(j.Dir, "readers")), fmt.Sprintf("bench-%d", os.Getpid())))
	}
	rd, err := journal.OpenReader(mmap.NewVolume(j.Dir), opts...)
	if err != nil { // a journal that is not there yet is followed until it is
		return r, err
	}
	defer rd.Close()
	say(out, sigReady)
	c := checker{size: j.Size}
	named := j.JournalKeep > 0
	err = rd.Follow(ctx, func(rec journal.Record) error {
		check(&c, rec.Position, rec.Payload)
		if named && c.records%(1<<16) == 0 {
			return rd.Commit()
		}
		return nil
	})
	r.End, r.Records = time.Now().UnixNano(), c.records
	return r, c.end(j, err, journal.ErrClosed)
}
