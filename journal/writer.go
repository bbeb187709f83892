package journal

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/multierr"

	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/ports"
)

// Writer appends records to a journal, encoding values of type T, and
// rolls to a new segment when one is full. There is one writer per
// journal; it is not safe for concurrent use.
type Writer[T any] struct {
	vol ports.Volume
	enc codecs.Encoder[T]
	cfg config
	cat *catalog
	id  domain.JournalID

	seg       uint64            // the current segment
	cur       *domain.Writer[T] // its writer
	st        ports.Storage     // its storage
	prepareAt uint32            // the write offset at which the next segment is prepared
	next      *pending[T]       // the next segment, being prepared
	dropped   uint64            // bytes of a torn tail the open repaired
	pruneErr  error             // the last error of retention, which does not fail a Write
	closing   chan [2]error     // the background close of the segment passed, until waited for
	recycler  ports.Recycler    // the volume's, WithRecycle
	spare     spare             // the segment retention left for recycling
	recycled  atomic.Uint64     // segments made by recycling
	pruneMu   sync.Mutex        // one retention pass at a time
}

// spare is the segment a retention pass dropped and left for the next
// prepare to recycle (WithRecycle); the roll's background pass sets it,
// the prepare's goroutine takes it.
type spare struct {
	mu   sync.Mutex
	seg  uint64
	ok   bool
	held map[uint64]ports.Storage // passed segments' storages kept open for recycling, maxHeld at most
}

// maxHeld is how many passed segments' storages (mappings) a recycling
// writer keeps open, for the segments retention drops next: recycled
// through them, the new segment's pages are mapped already.
const maxHeld = 8

// hold keeps st, segment seg's storage, for recycling; false if maxHeld
// are kept already.
func (s *spare) hold(seg uint64, st ports.Storage) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.held) >= maxHeld {
		return false
	}
	if s.held == nil {
		s.held = make(map[uint64]ports.Storage)
	}
	s.held[seg] = st
	return true
}

// unhold returns and forgets the storage kept for segment seg, if any.
func (s *spare) unhold(seg uint64) (ports.Storage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.held[seg]
	delete(s.held, seg)
	return st, ok
}

// release closes the storage kept for segment seg, if any (before the
// segment is removed: no mapping of a removed segment stays).
func (s *spare) release(seg uint64) {
	if st, ok := s.unhold(seg); ok {
		st.Close()
	}
}

// holding reports whether any storage is kept.
func (s *spare) holding() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.held) > 0
}

// releaseGone closes the storages kept for segments no longer among ids:
// removed by a Prune of someone else's, or by a retention pass that ran
// before they were kept. No mapping of a removed segment stays.
func (s *spare) releaseGone(ids []uint64) {
	s.mu.Lock()
	var gone []ports.Storage
	for seg, st := range s.held {
		if !slices.Contains(ids, seg) {
			gone = append(gone, st)
			delete(s.held, seg)
		}
	}
	s.mu.Unlock()
	for _, st := range gone {
		st.Close()
	}
}

// releaseAll closes every storage kept.
func (s *spare) releaseAll() error {
	s.mu.Lock()
	held := s.held
	s.held = nil
	s.mu.Unlock()
	var err error
	for _, st := range held {
		err = multierr.Append(err, st.Close())
	}
	return err
}

func (s *spare) put(seg uint64) {
	s.mu.Lock()
	s.seg, s.ok = seg, true
	s.mu.Unlock()
}

func (s *spare) take() (uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seg, ok := s.seg, s.ok
	s.ok = false
	return seg, ok
}

// pending is a segment being made in the background: its Create waits,
// pretouched and invisible to readers, for the roll to give it its
// sequence base.
type pending[T any] struct {
	seg  uint64
	base chan uint64 // the roll sends the sequence base; closing it aborts
	// The base once received (by the prepare's goroutine alone): a
	// recycle that fails after its init took it leaves it for the fresh
	// segment's init, which would otherwise wait on p.base for ever.
	gotBase  bool
	baseSeen uint64
	done     chan created[T]
	hurry    atomic.Bool // the roll is waiting: stop pretouching
	mapped   atomic.Bool // recycled through a kept mapping: nothing to pretouch
}

// pretouch faults in the pages of st, a new segment's storage whose
// memory the process maps, a page at a time, so that the writer's first
// touch of each costs no page fault later; it stops early when hurry is
// set (the writer reached the end of the current segment first: the pages
// left fault in as the writer goes). A storage whose bytes are not
// addressable has no page faults to save.
func pretouch(st ports.Storage, hurry *atomic.Bool) {
	a, ok := st.(ports.Addressable)
	if !ok {
		return
	}
	b := a.Bytes()
	page := os.Getpagesize()
	for i := 0; i < len(b); i += page {
		if i%(16*page) == 0 && hurry.Load() {
			return
		}
		b[i] = 0 // a write fault allocates the page; the file holds zeros here
	}
}

type created[T any] struct {
	w   *domain.Writer[T]
	st  ports.Storage
	err error
}

// errAborted aborts the Create of a prepared segment that is not needed.
var errAborted = errors.New("kekbit: journal: prepared segment not needed")

// OpenWriter opens the journal in vol for writing, making it if vol holds
// no segment. A journal closed cleanly goes on in a new segment; one whose
// writer died is repaired (a torn tail of its last segment dropped, see
// Dropped) and goes on in that segment. It returns an error matching
// ErrJournalLive if another writer is at work on it.
//
// The volume must be able to open a channel for writing and remove an
// abandoned one (ports.WriteOpener, ports.AbandonedRemover: the mmap,
// file and memory volumes can), and should hold nothing but the journal.
func OpenWriter[T any](vol ports.Volume, enc codecs.Encoder[T], opts ...Option) (*Writer[T], error) {
	wo, ok := vol.(ports.WriteOpener)
	if !ok {
		return nil, fmt.Errorf("kekbit: journal: %T cannot open a channel for writing", vol)
	}
	ar, ok := vol.(ports.AbandonedRemover)
	if !ok {
		return nil, fmt.Errorf("kekbit: journal: %T cannot tell who holds a channel", vol)
	}
	w := &Writer[T]{vol: vol, enc: enc, cfg: newConfig(opts), cat: newCatalog(vol)}
	if rc, ok := vol.(ports.Recycler); ok && w.cfg.recycle {
		w.recycler = rc
	}
	if err := w.open(wo, ar); err != nil {
		return nil, err
	}
	if w.cfg.retention.active() {
		_, _, _, w.pruneErr = prune(w.cat, w.cfg.positions, w.cfg.retention, w.id, w.cfg.clock(), false, nil)
	}
	return w, nil
}

// clearDeadSegment removes what a creator of segment id that died left:
// by the volume's ClearDeadCreator where it has one, which removes nothing
// else (a segment another writer made ready meanwhile, and let go, stays);
// else by RemoveAbandoned.
func clearDeadSegment(ar ports.AbandonedRemover, id uint64) error {
	if dc, ok := ar.(ports.DeadCreatorClearer); ok {
		_, err := dc.ClearDeadCreator(id)
		return err
	}
	return ar.RemoveAbandoned(id)
}

// open finds the journal's end and makes the writer ready to append there.
func (w *Writer[T]) open(wo ports.WriteOpener, ar ports.AbandonedRemover) error {
	enc := w.enc
	ids, err := w.cat.list()
	if err != nil {
		return err
	}
	next := uint64(0)
	if len(ids) > 0 {
		next = ids[len(ids)-1] + 1
	}
	// A segment whose creator died before it was ready holds nothing:
	// remove it; one a live creator is making means a live writer.
	switch st, err := w.vol.Open(next); {
	case err == nil:
		// Made ready since the list: a writer is at work, or was.
		st.Close()
		return fmt.Errorf("%w: segment %d appeared while opening", ErrJournalLive, next)
	case errors.Is(err, ports.ErrChannelNotReady):
		if err := clearDeadSegment(ar, next); err != nil && !errors.Is(err, ports.ErrChannelNotFound) {
			if errors.Is(err, ports.ErrChannelNotReady) || errors.Is(err, ports.ErrWriterAlive) {
				return fmt.Errorf("%w: segment %d is being made: %w", ErrJournalLive, next, err)
			}
			return err
		}
		if st, err := w.vol.Open(next); err == nil {
			// Its creator was alive after all, and made it ready.
			st.Close()
			return fmt.Errorf("%w: segment %d appeared while opening", ErrJournalLive, next)
		}
	case !errors.Is(err, ports.ErrChannelNotFound):
		return err
	}
	if len(ids) == 0 {
		if w.id, err = domain.NewJournalID(); err != nil {
			return err
		}
		if err := w.start(0, 0); err != nil {
			if errors.Is(err, ports.ErrChannelExists) {
				err = fmt.Errorf("%w: %w", ErrJournalLive, err)
			}
			return err
		}
		return nil
	}
	last := ids[len(ids)-1]
	if len(ids) > 1 {
		if err := w.closeSegment(wo, ids[len(ids)-2]); err != nil {
			return err
		}
	}
	st, err := wo.OpenForWrite(last)
	if err != nil {
		if errors.Is(err, ports.ErrWriterAlive) || errors.Is(err, ports.ErrChannelNotReady) {
			return fmt.Errorf("%w: %w", ErrJournalLive, err)
		}
		return err
	}
	h, err := segmentHeader(st, last)
	if err != nil {
		st.Close()
		return err
	}
	w.id = h.JournalID
	dw, err := domain.Resume(st, enc, w.cfg.writerOpts...)
	if err == nil {
		// Its writer died: carry on in the repaired segment.
		w.seg, w.cur, w.st, w.dropped = last, dw, st, dw.Dropped()
		w.setPrepareAt()
		return nil
	}
	if !errors.Is(err, domain.ErrClosed) && !errors.Is(err, domain.ErrChannelFull) {
		st.Close()
		return fmt.Errorf("kekbit: journal: resuming segment %d: %w", last, err)
	}
	// Closed (or full): a new segment after it, whose first sequence
	// number follows the last of this one (its close trailer counts them).
	var base uint64
	if _, records, ok := domain.ReadTrailer(st); ok {
		base = h.SeqBase + records
		st.Close()
	} else if base, err = nextSeq(st, h); err != nil {
		return fmt.Errorf("kekbit: journal: segment %d: %w", last, err)
	}
	if err := w.start(last+1, base); err != nil {
		if errors.Is(err, ports.ErrChannelExists) {
			err = fmt.Errorf("%w: %w", ErrJournalLive, err)
		}
		return err
	}
	return nil
}

// closeSegment closes segment id if it is not closed: a writer that died
// inside a roll, after the next segment was ready and before it closed
// this one, left it open, and its readers would wait at its end for ever.
func (w *Writer[T]) closeSegment(wo ports.WriteOpener, id uint64) error {
	st, err := w.vol.Open(id)
	if err != nil {
		return err
	}
	at, _, ok := domain.ReadTrailer(st)
	closed := false
	if ok {
		word, err := st.LoadUint64(int64(domain.DataOffset + at))
		closed = err == nil && word == domain.CloseMark
	}
	st.Close()
	if closed {
		return nil
	}
	if st, err = wo.OpenForWrite(id); err != nil {
		if errors.Is(err, ports.ErrWriterAlive) {
			return fmt.Errorf("%w: %w", ErrJournalLive, err)
		}
		return err
	}
	dw, err := domain.Resume(st, w.enc, w.cfg.writerOpts...)
	if err != nil {
		st.Close()
		if errors.Is(err, domain.ErrClosed) || errors.Is(err, domain.ErrChannelFull) {
			return nil
		}
		return fmt.Errorf("kekbit: journal: closing segment %d left open: %w", id, err)
	}
	return dw.Close()
}

// nextSeq reads segment st (header h, which it closes) to its end and
// returns the sequence number its next record would have had.
func nextSeq(st ports.Storage, h domain.Header) (uint64, error) {
	r, err := domain.NewReader(st)
	if err != nil {
		st.Close()
		return 0, err
	}
	defer r.Close()
	next := h.SeqBase
	for {
		_, err := r.Read(func(domain.Record) error { next = r.Seq() + 1; return nil }, 0)
		switch {
		case err == nil:
			continue
		case errors.Is(err, domain.ErrClosed), errors.Is(err, domain.ErrChannelFull):
			return next, nil
		}
		return 0, err
	}
}

// start makes segment seg with sequence base base and makes it current.
func (w *Writer[T]) start(seg, base uint64) error {
	p, err := w.prepare(seg)
	if err != nil {
		return err
	}
	p.base <- base
	c := <-p.done
	if c.err != nil {
		return c.err
	}
	w.seg, w.cur, w.st = seg, c.w, c.st
	w.setPrepareAt()
	return nil
}

// header returns the header of new segment seg.
func (w *Writer[T]) header(seg uint64) (domain.Header, error) {
	maxMsg := w.cfg.maxPayload
	if maxMsg == 0 {
		maxMsg = ^uint32(0)
	}
	h, err := domain.NewHeader(domain.Hints{
		WriterID:  w.id64(),
		ChannelID: seg,
		Capacity:  w.cfg.segmentSize,
		MaxMsgLen: maxMsg,
		Timeout:   w.cfg.tickUnit.FromDuration(w.cfg.timeout),
		TickUnit:  w.cfg.tickUnit,
		Clock:     w.cfg.clock,
		Envelope:  domain.EnvelopeAll,
	})
	if err != nil {
		return h, err
	}
	h.JournalID, h.Segment = w.id, seg
	return h, nil
}

// id64 is the writer id written in segment headers: the journal id's
// first 8 bytes.
func (w *Writer[T]) id64() uint64 {
	var v uint64
	for i := 7; i >= 0; i-- {
		v = v<<8 | uint64(w.id[i])
	}
	return v
}

// prepare starts making segment seg in the background: created and
// pretouched, it waits for its sequence base (or an abort) before it is
// ready.
func (w *Writer[T]) prepare(seg uint64) (*pending[T], error) {
	h, err := w.header(seg)
	if err != nil {
		return nil, err
	}
	p := &pending[T]{seg: seg, base: make(chan uint64, 1), done: make(chan created[T], 1)}
	go func() {
		var dw *domain.Writer[T]
		init := func(recycled bool) func(ports.Storage) error {
			return func(st ports.Storage) error {
				if w.cfg.pretouch && !p.mapped.Load() {
					pretouch(st, &p.hurry)
				}
				base, ok := p.baseSeen, p.gotBase
				if !ok {
					if base, ok = <-p.base; !ok {
						return errAborted
					}
					p.gotBase, p.baseSeen = true, base
				}
				if recycled {
					// The old segment's header, trailer, journal end and
					// progress marks go, and its last mark after the data
					// region; its records stay, past the watermark the new
					// writer keeps after each record, where no reader looks.
					if err := clearMarks(st, h); err != nil {
						return err
					}
				}
				h.SeqBase, h.CreationTime = base, h.TickUnit.At(w.cfg.clock())
				var err error
				dw, err = domain.NewWriter(st, h, w.enc, w.cfg.writerOpts...)
				return err
			}
		}
		st, err := w.recycle(seg, h.FileSize(), init(true), p)
		if st == nil && err == nil {
			st, err = w.vol.Create(seg, h.FileSize(), init(false))
		}
		p.done <- created[T]{w: dw, st: st, err: err}
	}()
	return p, nil
}

// recycle makes segment seg of the spare retention left, if there is one
// and the volume can (WithRecycle): nil and no error if it did not, and
// the spare is then removed if it was in use. An abort of the prepare
// (errAborted) leaves no segment seg either way.
func (w *Writer[T]) recycle(seg uint64, size int64, init func(ports.Storage) error, p *pending[T]) (ports.Storage, error) {
	if w.recycler == nil {
		return nil, nil
	}
	from, ok := w.spare.take()
	if !ok && w.cfg.retention.active() {
		// None left by the last roll's retention pass (a named reader held
		// it back then, or the pass is still at work): ask again now.
		var err error
		if _, from, ok, err = w.prune(w.cfg.clock, true); err != nil {
			return nil, nil // the next roll's pass reports it
		}
	}
	if !ok {
		return nil, nil
	}
	if !w.cfg.retention.Force {
		// A named reader that came since the retention pass may need it.
		if need, err := needed(w.cfg.positions, w.id); err != nil || from >= need {
			return nil, nil
		}
	}
	var st ports.Storage
	var err error
	if held, ok := w.spare.unhold(from); ok && held.Size() != size {
		// A segment of another size (the journal was reopened with another
		// WithSegmentSize): its file is recycled by path, which refuses it.
		held.Close()
		st, err = w.recycler.Recycle(from, seg, size, init)
	} else if ok {
		// Through the mapping the writer kept: no page to fault in.
		p.mapped.Store(true)
		st, err = w.recycler.(ports.StorageRecycler).RecycleStorage(held, from, seg, init)
		if err != nil {
			held.Close()
			p.mapped.Store(false) // a fresh segment is pretouched
		}
	} else {
		st, err = w.recycler.Recycle(from, seg, size, init)
	}
	switch {
	case err == nil:
		w.cat.forget(from)
		w.recycled.Add(1)
		return st, nil
	case errors.Is(err, errAborted):
		w.cat.forget(from) // it may have been renamed and then removed
		return nil, err
	}
	// In use, or it failed otherwise: what retention dropped goes, and
	// the segment is made afresh.
	if rerr := w.vol.Remove(from); rerr == nil || errors.Is(rerr, ports.ErrChannelNotFound) {
		w.cat.forget(from)
	}
	return nil, nil
}

// clearMarks zeroes what a segment's file holds outside its data region:
// the header block (header, extension, close trailer, journal end and
// progress marks) and the footer.
func clearMarks(st ports.Storage, h domain.Header) error {
	var zeros [domain.DataOffset]byte
	if _, err := st.WriteAt(zeros[:], 0); err != nil {
		return fmt.Errorf("kekbit: journal: clearing a recycled segment's header: %w", err)
	}
	if _, err := st.WriteAt(zeros[:domain.FooterLen], domain.DataOffset+int64(h.Capacity)); err != nil {
		return fmt.Errorf("kekbit: journal: clearing a recycled segment's footer: %w", err)
	}
	return nil
}

// prune applies the writer's retention, one pass at a time (the roll's
// background pass and a prepare's may meet), closing a kept storage of a
// segment before it goes; with spare, the newest segment it drops stays,
// returned for recycling.
func (w *Writer[T]) prune(now func() time.Time, spare bool) (removed []uint64, kept uint64, ok bool, err error) {
	w.pruneMu.Lock()
	defer w.pruneMu.Unlock()
	return prune(w.cat, w.cfg.positions, w.cfg.retention, w.id, now(), spare, w.spare.release)
}

// Recycled returns how many segments the writer made by recycling the
// file of one retention dropped (WithRecycle).
func (w *Writer[T]) Recycled() uint64 { return w.recycled.Load() }

// setPrepareAt sets where in the current segment the next is prepared.
func (w *Writer[T]) setPrepareAt() {
	w.prepareAt = uint32(w.cfg.prepareAt * float64(w.cur.Header().Capacity))
}

// Write encodes v into the journal as one record and returns its
// position. A record that does not fit the current segment goes into the
// next: the writer makes it ready (it was prepared in the background) and
// only then closes the current one.
//
// Errors, on which nothing is written: ErrRecordTooLarge (v needs more
// than a segment's max record length), ErrEmptyPayload, ErrEncoding,
// ErrRoll (the next segment could not be made; the writer stays usable),
// ErrWriterClosed.
func (w *Writer[T]) Write(v T) (Position, error) {
	if w.cur == nil {
		return 0, ErrWriterClosed
	}
	off := w.cur.WriteOffset()
	_, err := w.cur.Write(v)
	if err == nil {
		if off >= w.prepareAt && w.next == nil {
			if p, err := w.prepare(w.seg + 1); err == nil {
				w.next = p
			}
		}
		return MakePosition(w.seg, uint64(off)), nil
	}
	if !errors.Is(err, domain.ErrNoSpace) && !errors.Is(err, domain.ErrChannelFull) {
		return 0, err
	}
	if err := w.roll(); err != nil {
		return 0, err
	}
	off = w.cur.WriteOffset()
	if _, err := w.cur.Write(v); err != nil {
		return 0, err
	}
	return MakePosition(w.seg, uint64(off)), nil
}

// roll makes the next segment current: ready first, then the current one
// closed, then retention.
func (w *Writer[T]) roll() error {
	p := w.next
	w.next = nil
	if p == nil {
		var err error
		if p, err = w.prepare(w.seg + 1); err != nil {
			return fmt.Errorf("%w: %w", ErrRoll, err)
		}
	}
	p.hurry.Store(true)
	p.base <- w.NextSeq()
	c := <-p.done
	if c.err != nil {
		return fmt.Errorf("%w: segment %d: %w", ErrRoll, p.seg, c.err)
	}
	old, oldSt := w.cur, w.st
	w.seg, w.cur, w.st = p.seg, c.w, c.st
	w.setPrepareAt()
	// The next segment is ready: seal the old one (its trailer and close
	// mark, so readers move on), then flush and unmap it and apply
	// retention in the background, so that the roll costs the writer
	// little more than a swap. Their errors come with the next roll or
	// Close.
	err := multierr.Append(w.waitClosing(), old.Seal())
	w.closing = make(chan [2]error, 1)
	now := w.cfg.clock() // here: the clock need not be safe for concurrent use
	go func(closing chan<- [2]error, seg uint64) {
		var errs [2]error // the close's, retention's
		err := oldSt.Flush()
		if _, ok := w.recycler.(ports.StorageRecycler); !ok || !w.cfg.retention.active() || !w.spare.hold(seg, oldSt) {
			err = multierr.Append(err, oldSt.Close())
		}
		if err != nil {
			errs[0] = fmt.Errorf("kekbit: journal: closing segment %d: %w", seg, err)
		}
		if w.cfg.retention.active() {
			_, spare, ok, err := w.prune(func() time.Time { return now }, w.recycler != nil)
			errs[1] = err
			if ok {
				w.spare.put(spare)
			}
			if w.spare.holding() {
				if ids, err := w.vol.List(); err == nil {
					w.spare.releaseGone(ids)
				}
			}
		}
		closing <- errs
	}(w.closing, p.seg-1)
	return err
}

// waitClosing waits for the background close of the last segment passed,
// if any, and returns its error; retention's goes to PruneErr.
func (w *Writer[T]) waitClosing() error {
	if w.closing == nil {
		return nil
	}
	errs := <-w.closing
	w.closing = nil
	w.pruneErr = errs[1]
	return errs[0]
}

// NextSeq returns the sequence number the next record will have.
func (w *Writer[T]) NextSeq() uint64 {
	if w.cur == nil {
		return 0
	}
	return w.cur.Header().SeqBase + w.cur.Records()
}

// Segment returns the index of the current segment.
func (w *Writer[T]) Segment() uint64 { return w.seg }

// Position returns where the next record goes (in the current segment;
// a record that does not fit goes to the start of the next).
func (w *Writer[T]) Position() Position {
	if w.cur == nil {
		return MakePosition(w.seg, 0)
	}
	return MakePosition(w.seg, uint64(w.cur.WriteOffset()))
}

// JournalID returns the journal's id.
func (w *Writer[T]) JournalID() domain.JournalID { return w.id }

// Dropped returns the bytes of a torn tail that OpenWriter dropped when it
// repaired the journal of a writer that died.
func (w *Writer[T]) Dropped() uint64 { return w.dropped }

// PruneErr returns the error of the last retention pass (retention does
// not fail a Write), or nil.
func (w *Writer[T]) PruneErr() error { return w.pruneErr }

// Flush makes what was written durable (msync, fsync). It also waits for
// the background close of the segment last rolled away from, and the
// retention pass that follows it, and returns their errors (and the last
// retention error, PruneErr).
func (w *Writer[T]) Flush() error {
	if w.cur == nil {
		return ErrWriterClosed
	}
	err := w.waitClosing()
	return multierr.Combine(err, w.pruneErr, w.cur.Flush())
}

// abortNext drops the segment being prepared, if any.
func (w *Writer[T]) abortNext() {
	if w.next != nil {
		w.next.hurry.Store(true) // no more pretouching of a segment nobody will write
		close(w.next.base)
		<-w.next.done
		w.next = nil
	}
}

// Close ends the journal: it drops the segment being prepared, writes the
// journal end mark into the current segment and closes it, so readers
// learn that the journal ended. OpenWriter can open it again later (it
// goes on in a new segment). A second Close does nothing.
func (w *Writer[T]) Close() error {
	if w.cur == nil {
		return nil
	}
	w.abortNext()
	err := w.waitClosing()
	if seg, ok := w.spare.take(); ok {
		// Retention dropped it: with no next segment to recycle it into,
		// it goes, unless a named reader that came since needs it (it
		// stays then, for a later retention pass).
		w.spare.release(seg)
		need, nerr := needed(w.cfg.positions, w.id)
		if w.cfg.retention.Force || nerr == nil && seg < need {
			if rerr := w.vol.Remove(seg); rerr != nil && !errors.Is(rerr, ports.ErrChannelNotFound) {
				w.pruneErr = fmt.Errorf("kekbit: journal: removing segment %d: %w", seg, rerr)
			}
			w.cat.forget(seg)
		}
	}
	err = multierr.Append(err, w.spare.releaseAll())
	err = multierr.Append(err, domain.WriteJournalEnd(w.st))
	err = multierr.Append(err, w.cur.Close())
	w.cur, w.st = nil, nil
	return err
}

// Release gives the journal up without closing it, as a writer that dies
// leaves it: OpenWriter repairs and continues it. For tests and hand-over.
func (w *Writer[T]) Release() error {
	if w.cur == nil {
		return nil
	}
	w.abortNext()
	err := multierr.Combine(w.waitClosing(), w.spare.releaseAll(), w.cur.Release())
	w.cur, w.st = nil, nil
	return err
}

// Heartbeat appends a heartbeat to the current segment: readers skip it,
// and a plain channel reader of the segment learns that the writer lives.
// A full segment takes none (nil). ErrWriterClosed after Close.
func (w *Writer[T]) Heartbeat() (int, error) {
	if w.cur == nil {
		return 0, ErrWriterClosed
	}
	n, err := w.cur.Heartbeat()
	if errors.Is(err, domain.ErrChannelFull) {
		return 0, nil
	}
	return n, err
}
