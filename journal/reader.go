package journal

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"runtime"
	"sync"
	"time"

	"go.uber.org/multierr"

	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/internal/spin"
	"github.com/kekbit-go/kekbit/ports"
)

// Record is one record a journal reader hands out.
type Record struct {
	Position Position        // where the record starts
	Seq      uint64          // its sequence number, counted across the journal
	Time     uint64          // when it was written, in Unit ticks since the Unix epoch
	Unit     domain.TickUnit // the unit of Time
	// Payload is the record's bytes. It aliases the segment's memory and
	// is valid only until the handler returns or the loop moves on.
	Payload []byte

	next Position
}

// Next returns the position after the record: MoveTo(Next) resumes with
// the record after it.
func (r Record) Next() Position { return r.next }

// Timestamp returns Time as a time.Time.
func (r Record) Timestamp() time.Time { return time.Unix(0, 0).Add(r.Unit.ToDuration(r.Time)) }

// Lag is how far a reader is behind the writer.
type Lag struct {
	Records uint64 // records written that the reader has not handed out
	Bytes   uint64 // bytes of the data regions between them
}

// errStop is how an iterator's handler stops a read when the loop body
// breaks off.
var errStop = errors.New("kekbit: journal: loop broken off")

// Reader follows a journal across its segments, in any process, while its
// writer appends. A Reader is not safe for concurrent use.
//
// A named reader (WithName) starts after the position last committed
// under its name, and Commit (or WithAutoCommit) stores its position. A
// name with no position stored starts at the oldest record, and that
// position is stored as soon as the reader finds a segment: retention
// keeps what a named reader has not read from its first open on.
type Reader struct {
	vol  ports.Volume
	cfg  config
	cat  *catalog
	id   domain.JournalID // zero until a segment was opened
	from string           // where id came from, for errors: "" (a segment) or the stored position

	seg  uint64         // the segment of cur, or the one to open
	cur  *domain.Reader // nil: not open yet
	st   ports.Storage  // cur's storage
	unit domain.TickUnit
	pos  Position // after the last record handed out

	nextSeq  uint64 // the sequence number of the record at pos
	seqKnown bool   // nextSeq is valid (not after a MoveTo inside a segment)

	handler   func(Record) error
	onRec     func(domain.Record) error // r.onRecord, bound once
	count     int
	commitErr error
	err       error
	closed    bool

	closers  sync.WaitGroup // closes of passed segments under way
	cursor   Cursor
	unmarked bool // named, and no position stored yet
	tail     tail
	lagSegs  []SegmentEnd // Lag's, kept for the next
}

// OpenReader opens a reader of the journal in vol, at its oldest record
// (or, named, after the position committed under its name). The journal
// need not exist yet: the reader then waits for its first segment. It
// fails with an error matching ErrPruned if a named reader's position was
// removed by retention, ErrOtherJournal if it belongs to another journal,
// ErrReaderBusy if the name is in use.
func OpenReader(vol ports.Volume, opts ...Option) (*Reader, error) {
	r := &Reader{vol: vol, cfg: newConfig(opts), cat: newCatalog(vol)}
	r.onRec = r.onRecord
	ids, err := r.cat.list()
	if err != nil {
		return nil, err
	}
	if len(ids) > 0 {
		r.pos, r.seg = MakePosition(ids[0], 0), ids[0]
	}
	if r.cfg.name != "" {
		if r.cfg.positions == nil {
			return nil, fmt.Errorf("kekbit: journal: named reader %q without positions", r.cfg.name)
		}
		if r.cursor, err = r.cfg.positions.Open(r.cfg.name); err != nil {
			return nil, err
		}
		m, ok, err := r.cursor.Load()
		if err != nil {
			r.cursor.Close()
			return nil, err
		}
		r.unmarked = !ok
		if ok {
			r.id, r.from = m.Journal, fmt.Sprintf("stored position of reader %q", r.cfg.name)
			r.pos, r.seg = m.Position, m.Position.Segment()
			if len(ids) > 0 {
				s, err := r.cat.info(ids[len(ids)-1])
				if err == nil && s.hdr.JournalID != m.Journal {
					err = &JournalIDError{What: r.from, Want: s.hdr.JournalID, Got: m.Journal}
				}
				if err != nil {
					r.Close()
					return nil, err
				}
			}
		}
	}
	if err := r.ensure(); err != nil && err != ErrNothingYet {
		r.Close()
		return nil, err
	}
	return r, nil
}

// ensure opens the segment of r.pos if none is open: ErrNothingYet if it
// does not exist yet.
func (r *Reader) ensure() error {
	if r.cur != nil {
		return nil
	}
	seg := r.pos.Segment()
	st, err := r.vol.Open(seg)
	if err != nil {
		if errors.Is(err, ports.ErrChannelNotReady) {
			return ErrNothingYet
		}
		if !errors.Is(err, ports.ErrChannelNotFound) {
			return err
		}
		// Not there: not made yet, or removed. Segments are made in order
		// and removed oldest first, so a later one listed while this one
		// is not means it was removed; if it is listed now, it was made
		// since the Open: look again.
		ids, lerr := r.cat.list()
		if lerr != nil {
			return lerr
		}
		if _, listed := search(ids, seg); !listed && len(ids) > 0 && ids[len(ids)-1] > seg {
			return r.pruned(fmt.Sprintf("position %v", r.pos), ids)
		}
		return ErrNothingYet
	}
	h, err := segmentHeader(st, seg)
	if err == nil && r.id != (domain.JournalID{}) && h.JournalID != r.id {
		if r.from != "" { // the id came from a stored position: it is the stranger
			err = &JournalIDError{What: r.from, Want: h.JournalID, Got: r.id}
		} else {
			err = &JournalIDError{What: fmt.Sprintf("segment %d", seg), Want: r.id, Got: h.JournalID}
		}
	}
	var dr *domain.Reader
	if err == nil {
		dr, err = domain.NewReader(st)
	}
	if err == nil && r.pos.Offset() != 0 {
		if err = dr.MoveTo(r.pos.Offset()); err != nil {
			dr.Close()
			return err
		}
	}
	if err != nil {
		if dr == nil {
			st.Close()
		}
		return err
	}
	r.id, r.from = h.JournalID, ""
	r.cur, r.st, r.seg, r.unit = dr, st, seg, h.TickUnit
	if r.pos.Offset() == 0 {
		r.nextSeq, r.seqKnown = h.SeqBase, true
	} else {
		r.seqKnown = false
	}
	if r.unmarked {
		// A named reader's first position is stored at once: retention
		// keeps what it has not read from its first open, not its first
		// Commit.
		r.unmarked = false
		return r.Commit()
	}
	return nil
}

// pruned returns the error of a reader that wants what retention removed;
// ids are the segments left.
func (r *Reader) pruned(want string, ids []uint64) error {
	e := &PrunedError{Want: want, Oldest: oldest(ids)}
	if s, err := r.cat.info(ids[0]); err == nil {
		e.OldestSeq = s.hdr.SeqBase
	}
	return e
}

// onRecord hands one record of the current segment to the handler.
func (r *Reader) onRecord(d domain.Record) error {
	seq := r.cur.Seq()
	rec := Record{Position: MakePosition(r.seg, d.Position), Seq: seq, Time: r.cur.Time(), Unit: r.unit, Payload: d.Payload, next: MakePosition(r.seg, d.Next())}
	r.pos, r.nextSeq, r.seqKnown = rec.next, seq+1, true
	r.count++
	err := r.handler(rec)
	if (err == nil || err == errStop) && r.cfg.autoCommit {
		if cerr := r.Commit(); cerr != nil {
			r.commitErr = cerr
			return cerr
		}
	}
	return err
}

// Read hands the records from the reader's position to handler, up to max
// (max <= 0: no limit), across segments, and returns how many it handed
// out. It never blocks. Its error says where it stopped: nil (max records
// handed out), ErrNothingYet (caught up with the writer), ErrClosed (the
// journal was closed and read to its end), the handler's error (the reader
// then stands after that record), a *PrunedError, a *JournalIDError, a
// segment's *domain.ReadError (ErrCorrupt, ErrTruncated), ErrReaderClosed,
// or an I/O error.
func (r *Reader) Read(handler func(Record) error, max int) (int, error) {
	if r.closed {
		return 0, ErrReaderClosed
	}
	r.handler, r.count, r.commitErr = handler, 0, nil
	err := r.read(max)
	r.handler = nil
	return r.count, err
}

func (r *Reader) read(max int) error {
	for max <= 0 || r.count < max {
		if err := r.ensure(); err != nil {
			return err
		}
		left := 0
		if max > 0 {
			left = max - r.count
		}
		_, err := r.cur.Read(r.onRec, left)
		switch {
		case err == nil:
			return nil
		case r.commitErr != nil:
			return r.commitErr
		case err == domain.ErrNothingYet:
			return ErrNothingYet
		case errors.Is(err, domain.ErrClosed), errors.Is(err, domain.ErrChannelFull):
			if err := r.advance(); err != nil {
				return err
			}
			if r.cfg.autoCommit {
				// The position at the start of the next segment: retention
				// may drop the one passed.
				if err := r.Commit(); err != nil {
					return err
				}
			}
		case errors.Is(err, domain.ErrTimeout):
			return ErrNothingYet // a journal reader does not give its writer up
		default:
			return err
		}
	}
	return nil
}

// advance moves from the current segment, which ended, to the next: it
// returns ErrNothingYet if the next is not there yet, ErrClosed if the
// journal ended here.
func (r *Reader) advance() error {
	ended := domain.JournalEnded(r.st)
	err := r.switchTo(MakePosition(r.seg+1, 0))
	if err == ErrNothingYet && ended && !r.cfg.keepWaiting {
		r.closers.Wait() // at the journal's end, every segment passed is released
		return ErrClosed
	}
	return err
}

// switchTo opens the segment of p, at p, closing the current one; on
// error the reader stays where it was.
func (r *Reader) switchTo(p Position) error {
	old, oldSt, oldPos, oldSeg, oldSeq, oldKnown, oldUnit := r.cur, r.st, r.pos, r.seg, r.nextSeq, r.seqKnown, r.unit
	r.cur, r.st, r.pos = nil, nil, p
	if err := r.ensure(); err != nil {
		r.cur, r.st, r.pos, r.seg, r.nextSeq, r.seqKnown, r.unit = old, oldSt, oldPos, oldSeg, oldSeq, oldKnown, oldUnit
		return err
	}
	if old != nil {
		// A passed segment's mapping goes at once, on another goroutine:
		// unmapping a large segment takes milliseconds.
		r.closers.Add(1)
		go func() {
			defer r.closers.Done()
			old.Close()
		}()
	}
	return nil
}

// Records returns an iterator over the records available now, across
// segments. The loop ends when it caught up with the writer or the journal
// ends; Err then says which (nil: caught up, or the loop was broken off).
func (r *Reader) Records() iter.Seq[Record] {
	return func(yield func(Record) bool) {
		_, err := r.Read(func(rec Record) error {
			if !yield(rec) {
				return errStop
			}
			return nil
		}, 0)
		if err == errStop || err == ErrNothingYet {
			err = nil
		}
		r.err = err
	}
}

// Follow hands records to handler as they arrive, across segments,
// waiting (WithWait) while the writer has nothing new. It returns ErrClosed
// when the journal was closed and read to its end (never, WithKeepWaiting),
// the handler's error, ctx.Err(), or the error that ended the read (see
// Read).
func (r *Reader) Follow(ctx context.Context, handler func(Record) error) error {
	b := backoff{Wait: r.cfg.wait}
	for {
		n, err := r.Read(handler, 0)
		if err != ErrNothingYet {
			return err
		}
		if n > 0 {
			b.round, b.sleep = 0, 0
		}
		if err := b.pause(ctx); err != nil {
			return err
		}
	}
}

// FollowRecords is Follow as an iterator; Err says why the loop ended (nil
// if it was broken off).
func (r *Reader) FollowRecords(ctx context.Context) iter.Seq[Record] {
	return func(yield func(Record) bool) {
		err := r.Follow(ctx, func(rec Record) error {
			if !yield(rec) {
				return errStop
			}
			return nil
		})
		if err == errStop {
			err = nil
		}
		r.err = err
	}
}

// Err returns why the last Records or FollowRecords loop ended.
func (r *Reader) Err() error { return r.err }

// Position returns the position after the last record handed out: where
// the next read starts.
func (r *Reader) Position() Position { return r.pos }

// JournalID returns the journal's id, zero before the reader found a
// segment.
func (r *Reader) JournalID() domain.JournalID { return r.id }

// MoveTo puts the reader at p, the start of a record (a Record's Position
// or Next) or the writer's end. It fails with ErrUnaligned or
// ErrUnavailable (package domain) inside a segment, ErrUnavailable for a
// segment not made yet, a *PrunedError for one retention removed.
func (r *Reader) MoveTo(p Position) error {
	if r.closed {
		return ErrReaderClosed
	}
	if r.cur != nil && p.Segment() == r.seg {
		if err := r.cur.MoveTo(p.Offset()); err != nil {
			return err
		}
		r.pos = p
		r.nextSeq, r.seqKnown = r.cur.Header().SeqBase, p.Offset() == 0
		return nil
	}
	if err := r.switchTo(p); err != nil {
		if err == ErrNothingYet {
			return fmt.Errorf("%w: segment %d does not exist yet", ErrUnavailable, p.Segment())
		}
		return err
	}
	return nil
}

// SeekSeq puts the reader at the record with sequence number seq (or, for
// the number the next record will have, at the writer's end): it bisects
// the segments by their first sequence number, then seeks in one. It fails
// with ErrUnavailable for a number not written yet and a *PrunedError for
// one retention removed.
func (r *Reader) SeekSeq(seq uint64) error {
	if r.closed {
		return ErrReaderClosed
	}
	ids, i, err := r.cat.find(func(h domain.Header) bool { return h.SeqBase > seq })
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return fmt.Errorf("%w: sequence number %d: the journal has no segment yet", ErrUnavailable, seq)
	}
	if i == 0 {
		return r.pruned(fmt.Sprintf("sequence number %d", seq), ids)
	}
	if err := r.into(ids[i-1]); err != nil {
		return err
	}
	if err := r.cur.SeekSeq(seq); err != nil {
		return err
	}
	r.pos, r.nextSeq, r.seqKnown = MakePosition(r.seg, r.cur.Position()), seq, true
	return nil
}

// into opens segment seg, at its start, unless it is the current one.
func (r *Reader) into(seg uint64) error {
	if r.cur != nil && r.seg == seg {
		return nil
	}
	err := r.switchTo(MakePosition(seg, 0))
	if err == ErrNothingYet {
		return fmt.Errorf("%w: segment %d was removed meanwhile", ErrPruned, seg)
	}
	return err
}

// SeekTime puts the reader at the first record written at t or later: it
// bisects the segments by their creation time (a segment is made after
// every record of the one before it and before any of its own), then
// seeks in one. It fails with ErrUnavailable if no record is that late
// yet.
func (r *Reader) SeekTime(t time.Time) error {
	if r.closed {
		return ErrReaderClosed
	}
	ids, i, err := r.cat.find(func(h domain.Header) bool { return h.CreationTime >= h.TickUnit.At(t) })
	if err != nil {
		return err
	}
	// Every record before segment i-1 is older than t.
	for i = max(i-1, 0); i < len(ids); i++ {
		if err := r.into(ids[i]); err != nil {
			return err
		}
		err := r.cur.SeekTime(r.unit.At(t))
		if err == nil {
			r.pos, r.seqKnown = MakePosition(r.seg, r.cur.Position()), false
			return nil
		}
		if !errors.Is(err, domain.ErrUnavailable) || i == len(ids)-1 {
			return err
		}
	}
	return fmt.Errorf("%w: the journal has no segment yet", ErrUnavailable)
}

// Commit stores the reader's position under its name: after a restart it
// resumes with the record after the last one handed out before Commit.
// ErrNoName for a reader opened without WithName.
func (r *Reader) Commit() error {
	if r.cursor == nil {
		return ErrNoName
	}
	if r.id == (domain.JournalID{}) {
		if err := r.ensure(); err != nil && err != ErrNothingYet {
			return err
		}
		if r.id == (domain.JournalID{}) {
			return nil // no segment yet: nothing to store
		}
	}
	return r.cursor.Store(Mark{Journal: r.id, Position: r.pos})
}

// Flush makes the committed position durable against power loss (for
// positions whose commit is a store to memory: mmap).
func (r *Reader) Flush() error {
	if r.cursor == nil {
		return ErrNoName
	}
	return r.cursor.Flush()
}

// Close closes the reader's segment, its position cursor and what Lag
// keeps open, and waits for the closes of the segments it passed. A second
// Close returns nil.
func (r *Reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.closers.Wait()
	var err error
	if r.cur != nil {
		err = r.cur.Close()
		r.cur, r.st = nil, nil
	}
	err = multierr.Append(err, r.tail.close())
	if r.cursor != nil {
		err = multierr.Append(err, r.cursor.Close())
	}
	return err
}

// backoff keeps the state of one idle stretch of Follow: spins, then
// yields, then sleeps doubling up to MaxSleep.
type backoff struct {
	domain.Wait
	round int
	sleep time.Duration
	timer *time.Timer
}

func (b *backoff) pause(ctx context.Context) error {
	b.round++
	switch {
	case b.Spins < 0 || b.round <= b.Spins:
		if b.Pause > 0 {
			spin.Loop(spin.Rounds(b.Pause))
		}
		if b.round&255 != 0 {
			return nil
		}
		return ctx.Err()
	case b.round <= b.Spins+b.Yields:
		runtime.Gosched()
		return ctx.Err()
	}
	if b.sleep == 0 {
		b.sleep = max(b.MinSleep, time.Microsecond)
	}
	if b.timer == nil {
		b.timer = time.NewTimer(b.sleep)
	} else {
		b.timer.Reset(b.sleep)
	}
	b.sleep = min(2*b.sleep, max(b.MaxSleep, b.MinSleep))
	select {
	case <-ctx.Done():
		b.timer.Stop()
		return ctx.Err()
	case <-b.timer.C:
		return nil
	}
}
