package journal

import (
	"errors"

	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/ports"
)

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
// the last Lag.
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
	if r.cur == nil {
		// Nothing opened: everything is ahead.
		first, err := r.cat.info(ids[0])
		if err != nil {
			return Lag{}, err
		}
		lag := Lag{Records: r.tail.next - first.hdr.SeqBase}
		for _, seg := range ids[:len(ids)-1] {
			at, _, err := r.cat.closedAt(seg)
			if err != nil {
				return Lag{}, err
			}
			lag.Bytes += at
		}
		return lag, nil
	}
	if !r.seqKnown {
		if r.nextSeq, err = seqAt(r.vol, r.seg, r.pos.Offset()); err != nil {
			return Lag{}, err
		}
		r.seqKnown = true
	}
	lag := Lag{Records: r.tail.next - min(r.nextSeq, r.tail.next)}
	if r.seg == last {
		lag.Bytes = r.tail.rd.Position() - min(r.pos.Offset(), r.tail.rd.Position())
		return lag, nil
	}
	for _, seg := range ids {
		if seg < r.seg || seg == last {
			continue
		}
		at, _, err := r.cat.closedAt(seg)
		if err != nil {
			return Lag{}, err
		}
		if seg == r.seg {
			at -= min(at, r.pos.Offset())
		}
		lag.Bytes += at
	}
	lag.Bytes += r.tail.rd.Position()
	return lag, nil
}

// seqAt returns the sequence number of the record at position off of
// segment seg (or of the next to be written there), by walking it.
func seqAt(vol ports.Volume, seg, off uint64) (uint64, error) {
	st, err := vol.Open(seg)
	if err != nil {
		return 0, err
	}
	rd, err := domain.NewReader(st)
	if err != nil {
		st.Close()
		return 0, err
	}
	defer rd.Close()
	next := rd.Header().SeqBase
	stop := errors.New("")
	for {
		_, err := rd.Read(func(rec domain.Record) error {
			if rec.Position >= off {
				return stop
			}
			next = rd.Seq() + 1
			return nil
		}, 0)
		switch {
		case err == nil:
			continue
		case err == stop:
			return rd.Seq(), nil
		case err == domain.ErrNothingYet, errors.Is(err, domain.ErrClosed), errors.Is(err, domain.ErrChannelFull), errors.Is(err, domain.ErrTimeout):
			return next, nil
		}
		return 0, err
	}
}
