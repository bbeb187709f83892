package bench

import (
	"context"
	"io"
	"time"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/journal"
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
		opts = append(opts, journal.WithRetention(journal.Retention{MaxSegments: j.JournalKeep}), journal.WithRecycle(true))
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
	r.Start = time.Now().UnixNano()
	if err := writeAll(j, w.Write); err != nil {
		return r, err
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
	rd, err := journal.OpenReader(mmap.NewVolume(j.Dir), journal.WithWait(domain.Wait{Spins: -1, Pause: j.Pause}))
	if err != nil { // a journal that is not there yet is followed until it is
		return r, err
	}
	defer rd.Close()
	say(out, sigReady)
	c := checker{size: j.Size}
	err = rd.Follow(ctx, func(rec journal.Record) error {
		c.check(rec.Position, rec.Payload)
		return nil
	})
	r.End, r.Records = time.Now().UnixNano(), c.records
	return r, c.end(j, err, journal.ErrClosed)
}
