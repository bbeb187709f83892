package domain

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime/debug"
	"sort"
)

// Seeking by sequence number and by time.
//
// Record boundaries are known only by walking the length words from
// position 0, so a reader that seeks keeps a sparse index of the channel:
// the position, record number and time of every indexEvery-th record. It
// builds it by one walk over what is written (reading two words per record,
// no CRC), extends it as the writer goes on, and answers a seek by
// bisecting the index and then walking at most indexEvery records. An index
// of every 128th record costs 24 bytes per 128 records (190 KB for a
// million) and bounds the walk to about a microsecond.

// indexEvery is how many records lie between two entries of the index.
const indexEvery = 128

// indexEntry is one entry of a reader's seek index.
type indexEntry struct {
	pos    uint64 // where the record starts
	record uint64 // its number in the channel (its sequence number less the base)
	time   uint64 // its envelope's time, 0 without EnvelopeTime
}

// seekIndex is a reader's sparse index and how far it reaches.
type seekIndex struct {
	entries []indexEntry
	pos     uint64 // the position the walk stopped at: the writer's end when it last looked
	records uint64 // records before pos
}

// ErrNoTimestamps is returned by SeekTime on a channel whose records carry
// no time (no EnvelopeTime).
var ErrNoTimestamps = errors.New("kekbit: the channel's records carry no time")

// extend walks the channel from where the index stopped to the writer's
// end (or the channel's), adding an entry every indexEvery records.
func (r *Reader) extendIndex() error {
	x := &r.index
	for {
		word, end, err := r.classifyGuarded(x.pos, r.fileEnd)
		switch err {
		case nil:
		case ErrNothingYet, ErrClosed, ErrChannelFull, ErrTruncated, ErrCorrupt:
			return nil // the end of what can be read; a read there says which
		default:
			return err
		}
		if word != HeartbeatLen {
			if x.records%indexEvery == 0 {
				e := indexEntry{pos: x.pos, record: x.records}
				if r.env.Has(EnvelopeTime) {
					if e.time, err = r.stampAt(x.pos); err != nil {
						return err
					}
				}
				x.entries = append(x.entries, e)
			}
			x.records++
		}
		x.pos = end
	}
}

// stampAt reads the envelope time of the record at pos.
func (r *Reader) stampAt(pos uint64) (t uint64, err error) {
	if r.faults != nil {
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer catchFault(r.faults, &err)
	}
	at := pos + RecordHeaderLen + r.env.timeAt()
	if r.mem != nil {
		return binary.LittleEndian.Uint64(r.mem[at:]), nil
	}
	var b [8]byte
	if _, err := r.st.ReadAt(b[:], int64(DataOffset+at)); err != nil {
		return 0, fmt.Errorf("kekbit: reading the time of the record at position %d: %w", pos, err)
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

// walkTo steps from the index entry at or before record number n to the
// position after record n-1 (where record n starts, heartbeats aside).
func (r *Reader) walkTo(n uint64) (pos uint64, err error) {
	i := sort.Search(len(r.index.entries), func(i int) bool { return r.index.entries[i].record > n })
	pos, records := uint64(0), uint64(0)
	if i > 0 {
		pos, records = r.index.entries[i-1].pos, r.index.entries[i-1].record
	}
	for records < n {
		word, end, err := r.classifyGuarded(pos, r.fileEnd)
		if err != nil {
			return 0, err
		}
		if word != HeartbeatLen {
			records++
		}
		pos = end
	}
	return pos, nil
}

// SeekSeq puts the reader at the record whose sequence number is seq, so
// that the next record handed out is that one; or, for the sequence number
// the next record will have, at the writer's end. It takes O(log n) to find
// the records around it in the reader's index and a walk of at most 128
// records; the first seek, and one after the writer wrote much more, first
// index what is new by one walk over it. It returns an error wrapping
// ErrUnavailable, without moving, for a sequence number below the header's
// SeqBase or above what is written.
func (r *Reader) SeekSeq(seq uint64) error {
	if r.closed {
		return ErrReaderClosed
	}
	if seq < r.seqBase {
		return fmt.Errorf("%w: sequence number %d is below the channel's first, %d", ErrUnavailable, seq, r.seqBase)
	}
	n := seq - r.seqBase
	if n > r.index.records {
		if err := r.extendIndex(); err != nil {
			return err
		}
	}
	if n > r.index.records {
		return fmt.Errorf("%w: sequence number %d: the channel holds %d..%d", ErrUnavailable, seq, r.seqBase, r.seqBase+r.index.records-1)
	}
	pos, err := r.walkTo(n)
	if err != nil {
		return fmt.Errorf("%w: sequence number %d: %w", ErrUnavailable, seq, err)
	}
	r.pos, r.records = pos, n
	r.clock.moved()
	return nil
}

// SeekTime puts the reader at the first record written at time t or later
// (t in the header's tick unit since the Unix epoch), assuming the writer's
// clock never went back; so that the next record handed out is that one. It
// bisects the reader's index by time, then walks at most 128 records. It
// returns ErrNoTimestamps on a channel whose records carry no time, and an
// error wrapping ErrUnavailable, without moving, if no record written so
// far is that late.
func (r *Reader) SeekTime(t uint64) error {
	if r.closed {
		return ErrReaderClosed
	}
	if !r.env.Has(EnvelopeTime) {
		return ErrNoTimestamps
	}
	if err := r.extendIndex(); err != nil {
		return err
	}
	x := r.index.entries
	i := sort.Search(len(x), func(i int) bool { return x[i].time >= t })
	pos, records := uint64(0), uint64(0)
	if i > 0 {
		pos, records = x[i-1].pos, x[i-1].record
	}
	for {
		word, end, err := r.classifyGuarded(pos, r.fileEnd)
		if err != nil {
			return fmt.Errorf("%w: no record written at %d or later yet: %w", ErrUnavailable, t, err)
		}
		if word != HeartbeatLen {
			at, err := r.stampAt(pos)
			if err != nil {
				return err
			}
			if at >= t {
				r.pos, r.records = pos, records
				r.clock.moved()
				return nil
			}
			records++
		}
		pos = end
	}
}
