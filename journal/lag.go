package journal

import (
	"errors"
	"fmt"
	"sort"

	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/ports"
)

// SegmentEnd is how far one segment of a journal has come.
type SegmentEnd struct {
	Segment  uint64 // its index
	FirstSeq uint64 // the sequence number of its first record (its header's base)
	Written  uint64 // bytes of its data region before its end: its close mark, or the writer's position
	NextSeq  uint64 // the sequence number after its last record
}

// LagOf returns how far a reader at p is behind the writer of a journal
// whose segments have come as far as segs say (oldest first, from the
// oldest the journal holds or from p's segment on). seqAt returns the
// sequence number of the record at offset off of segment seg, a position
// before its end (ok false: no record there, the next to be written is).
//
// A p past the last segment (the start of one not made yet) is caught up:
// zero; one before the first of segs was removed: a *PrunedError. A p in
// no segment of segs fails with ErrUnavailable. LagOf is the
// one computation of lag: Reader.Lag, LagAt, and the tools use it.
func LagOf(segs []SegmentEnd, p Position, seqAt func(seg, off uint64) (seq uint64, ok bool, err error)) (Lag, error) {
	if len(segs) == 0 || p.Segment() > segs[len(segs)-1].Segment {
		return Lag{}, nil
	}
	if p.Segment() < segs[0].Segment {
		return Lag{}, &PrunedError{Want: fmt.Sprintf("position %v", p), Oldest: MakePosition(segs[0].Segment, 0), OldestSeq: segs[0].FirstSeq}
	}
	i := sort.Search(len(segs), func(i int) bool { return segs[i].Segment >= p.Segment() })
	if segs[i].Segment != p.Segment() {
		return Lag{}, fmt.Errorf("%w: segment %d of position %v is not there", ErrUnavailable, p.Segment(), p)
	}
	s, off := segs[i], p.Offset()
	at := s.NextSeq
	if off < s.Written {
		seq, ok, err := seqAt(s.Segment, off)
		if err != nil {
			return Lag{}, fmt.Errorf("kekbit: journal: position %v: %w", p, err)
		}
		if ok {
			at = seq
		}
	}
	next := segs[len(segs)-1].NextSeq
	lag := Lag{Records: next - min(at, next), Bytes: s.Written - min(off, s.Written)}
	for _, s := range segs[i+1:] {
		lag.Bytes += s.Written
	}
	return lag, nil
}

// LagAt returns how far a reader at p is behind the writer of the journal
// in vol, reading how far each segment from p's on has come
// (domain.ReadProgress: a walk of at most a thousand records from the
// writer's progress mark). It fails with a *PrunedError if p's segment was
// removed.
func LagAt(vol ports.Volume, p Position) (Lag, error) {
	ids, err := vol.List()
	if err != nil || len(ids) == 0 {
		return Lag{}, err
	}
	var segs []SegmentEnd
	for _, id := range ids {
		if id < p.Segment() && id != ids[0] {
			continue
		}
		e, err := segmentEnd(vol, id)
		if err != nil {
			return Lag{}, err
		}
		segs = append(segs, e)
	}
	return LagOf(segs, p, func(seg, off uint64) (uint64, bool, error) { return seqIn(vol, seg, off) })
}

// segmentEnd opens segment id and reads how far it has come.
func segmentEnd(vol ports.Volume, id uint64) (SegmentEnd, error) {
	st, err := vol.Open(id)
	if err != nil {
		return SegmentEnd{}, err
	}
	defer st.Close()
	return progressOf(st, id)
}

// progressOf reads how far st, segment id, has come.
func progressOf(st ports.Storage, id uint64) (SegmentEnd, error) {
	pr, err := domain.ReadProgress(st)
	if err != nil {
		return SegmentEnd{}, fmt.Errorf("kekbit: journal: segment %d: %w", id, err)
	}
	return SegmentEnd{Segment: id, FirstSeq: pr.Header.SeqBase, Written: pr.Position, NextSeq: pr.Header.SeqBase + pr.Records}, nil
}

// seqIn returns the sequence number of the record at off of segment seg
// (domain.SeqAt: one read of its envelope).
func seqIn(vol ports.Volume, seg, off uint64) (uint64, bool, error) {
	st, err := vol.Open(seg)
	if err != nil {
		return 0, false, err
	}
	defer st.Close()
	return domain.SeqAt(st, off)
}

// tail follows the writer's end of the journal, for Lag: a reader of the
// last segment that only counts.
type tail struct {
	seg  uint64
	rd   *domain.Reader
	next uint64 // the sequence number of the next record to be written
}

func (t *tail) close() error {
	if t.rd == nil {
		return nil
	}
	err := t.rd.Close()
	t.rd = nil
	return err
}

// update brings the tail to the writer's end of segment last.
func (t *tail) update(vol ports.Volume, last uint64) error {
	if t.rd == nil || t.seg != last {
		t.close()
		st, err := vol.Open(last)
		if err != nil {
			return err
		}
		rd, err := domain.NewReader(st)
		if err != nil {
			st.Close()
			return err
		}
		t.seg, t.rd, t.next = last, rd, rd.Header().SeqBase
	}
	for {
		_, err := t.rd.Read(func(domain.Record) error { t.next = t.rd.Seq() + 1; return nil }, 0)
		switch {
		case err == nil:
			continue
		case err == domain.ErrNothingYet, errors.Is(err, domain.ErrClosed), errors.Is(err, domain.ErrChannelFull), errors.Is(err, domain.ErrTimeout):
			return nil
		}
		return err
	}
}

// Lag returns how far the reader is behind the writer: the records written
// that it has not handed out, and the bytes of data region they take
// (heartbeats and framing included). It reads what the writer wrote since
// the last Lag, and how far each segment between has come (the end of a
// closed one is cached).
func (r *Reader) Lag() (Lag, error) {
	if r.closed {
		return Lag{}, ErrReaderClosed
	}
	ids, err := r.cat.list()
	if err != nil || len(ids) == 0 {
		return Lag{}, err
	}
	last := ids[len(ids)-1]
	if err := r.tail.update(r.vol, last); err != nil {
		return Lag{}, err
	}
	if err := r.ensure(); err != nil && err != ErrNothingYet {
		return Lag{}, err
	}
	segs := r.lagSegs[:0]
	if _, listed := search(ids, r.seg); r.cur != nil && !listed && r.seg < last {
		// Its segment was removed (forced retention) while it reads it:
		// its own mapping says how far it came.
		e, err := progressOf(r.st, r.seg)
		if err != nil {
			return Lag{}, err
		}
		segs = append(segs, e)
	}
	for _, id := range ids {
		if id < r.pos.Segment() && id != ids[0] {
			continue
		}
		var e SegmentEnd
		switch {
		case id == last:
			e = SegmentEnd{Segment: id, FirstSeq: r.tail.rd.Header().SeqBase, Written: r.tail.rd.Position(), NextSeq: r.tail.next}
		default:
			at, records, closed, err := r.cat.closedAt(id)
			if err != nil {
				return Lag{}, err
			}
			if closed {
				s, err := r.cat.info(id)
				if err != nil {
					return Lag{}, err
				}
				e = SegmentEnd{Segment: id, FirstSeq: s.hdr.SeqBase, Written: at, NextSeq: s.hdr.SeqBase + records}
			} else if e, err = segmentEnd(r.vol, id); err != nil {
				// Not closed (its writer died inside a roll): how far it came.
				return Lag{}, err
			}
		}
		segs = append(segs, e)
	}
	r.lagSegs = segs
	return LagOf(segs, r.pos, r.seqAt)
}

// seqAt is LagOf's seqAt for the reader: the number it knows, or one read
// of the envelope at off.
func (r *Reader) seqAt(seg, off uint64) (uint64, bool, error) {
	if r.cur == nil || seg != r.seg || off != r.pos.Offset() {
		return seqIn(r.vol, seg, off)
	}
	if !r.seqKnown {
		seq, ok, err := domain.SeqAt(r.st, off)
		if err != nil || !ok {
			return seq, ok, err
		}
		r.nextSeq, r.seqKnown = seq, true
	}
	return r.nextSeq, true, nil
}
