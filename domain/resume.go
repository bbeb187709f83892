package domain

import (
	"errors"
	"runtime/debug"

	"go.uber.org/multierr"

	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/ports"
)

// ErrReadOnlyStorage is returned by Resume for a storage that says it
// cannot be written (a reader's).
var ErrReadOnlyStorage = errors.New("kekbit: storage is read-only: open it for writing to resume the channel")

// Resume returns a writer that carries on appending to st, an existing
// channel whose writer is gone: its process died, or it gave the channel
// up with Release. It validates the header, walks the records from
// position 0, verifying each (its framing, and on a channel with an
// envelope its CRC and sequence number), and returns a writer positioned
// after the last good one. Values are encoded with enc.
//
// A torn tail (a record that fails verification, or zeros up to the
// capacity: what a lost page leaves) is repaired: every record before it
// is kept, the rest of the written region (heartbeats after the last good
// record included) is overwritten with the watermark, and Dropped says how
// many bytes were overwritten. With the envelope nothing that fails its
// CRC is kept.
//
// The caller must make sure that no other writer holds the channel: open
// st through a volume's OpenForWrite (ports.WriteOpener), which takes the
// writer's lock and refuses a channel whose writer is alive. Readers that
// gave the channel up meanwhile (ErrWriterGone, ErrTimeout) may start
// following it again.
//
// Errors: ErrReadOnlyStorage; a *HeaderError; ErrStorageTooSmall for a
// storage shorter than the file this package writes (a channel written by
// the Rust crate); and, inside a *ReadError, ErrClosed (a closed channel
// stays closed), ErrChannelFull or ErrTruncated, with the position where
// the walk stopped.
func Resume[T any](st ports.Storage, enc codecs.Encoder[T], opts ...WriterOption) (*Writer[T], error) {
	// A storage mapped read-only (a reader's) would fault on the first
	// write: refuse it now.
	if ro, ok := st.(interface{ Writable() bool }); ok && !ro.Writable() {
		return nil, ErrReadOnlyStorage
	}
	h, err := readHeader(st)
	if err != nil {
		return nil, err
	}
	if h.MultiWriter {
		return nil, ErrMultiWriter
	}
	w, err := attach(st, h, enc, opts)
	if err != nil {
		return nil, err
	}
	pos, records, torn, err := w.findEnd()
	if err != nil {
		return nil, err
	}
	if torn {
		if w.dropped, err = w.repair(pos); err != nil {
			return nil, err
		}
	}
	w.pos, w.records = pos, records
	if err := w.guard(w.markProgress); err != nil {
		return nil, err
	}
	return w, nil
}

// findEnd walks the records and heartbeats from position 0, verifying each
// record, and returns the position of the watermark, or where a torn tail
// starts (torn), and the records before it.
//
// A torn tail starts right after the last good record: the heartbeats
// between it and the damage go with the damage, for a run of zeros there
// may as well be a lost page (what an unordered writeback leaves) as
// heartbeats. Only damage tears a tail: a writer killed at any moment
// leaves the watermark after its last record, as a live reader expects.
// A walk that reaches the capacity through zeros no writer published (a
// writer that fills the channel leaves the watermark or the close mark at
// its end) is a torn tail too, not a full channel.
func (w *Writer[T]) findEnd() (pos, records uint64, torn bool, err error) {
	kept := uint64(0) // the end of the last good record, or of the first heartbeat
	for {
		word, end, err := w.classifyGuarded(pos, w.capacity)
		switch err {
		case nil:
			if word != HeartbeatLen {
				if w.envLen != 0 {
					if _, _, _, err := w.verifyGuarded(pos, word, end, records); err == ErrCorrupt {
						return kept, records, true, nil
					} else if err != nil {
						return 0, 0, false, &ReadError{Err: err, Position: pos, BytesRead: int(pos)}
					}
				}
				records++
				kept = end
			} else if pos == 0 {
				kept = end
			}
			pos = end
			continue
		case ErrNothingYet:
			return pos, records, false, nil
		case ErrCorrupt:
			return kept, records, true, nil
		case ErrChannelFull:
			if kept < pos {
				mark, err := w.loadGuarded(pos)
				if err != nil {
					return 0, 0, false, err
				}
				if mark == 0 { // never published: the zeros of a lost tail
					return kept, records, true, nil
				}
			}
		}
		switch err {
		case ErrClosed, ErrChannelFull, ErrTruncated:
			return 0, 0, false, &ReadError{Err: err, Position: pos, BytesRead: int(pos), Word: word}
		}
		return 0, 0, false, err
	}
}

// loadGuarded is load with a fault in the storage's memory turned into
// ErrTruncated.
func (w *Writer[T]) loadGuarded(pos uint64) (v uint64, err error) {
	if w.faults != nil {
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer catchFault(w.faults, &err)
	}
	return w.load(pos)
}

// verifyGuarded is verify with a fault in the storage's memory turned into
// ErrTruncated.
func (w *Writer[T]) verifyGuarded(pos, word, end, index uint64) (p []byte, s sealed, bad mismatch, err error) {
	if w.faults != nil {
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer catchFault(w.faults, &err)
	}
	return w.verify(pos, word, end, index)
}

// repair overwrites the written region from pos, where the first record
// that fails verification starts, with the watermark: every word up to the
// last that is not zero (what the crash left), from the end back to pos,
// so that a reader waiting at pos sees the watermark last. It returns the
// bytes it overwrote.
func (w *Writer[T]) repair(pos uint64) (dropped uint64, err error) {
	if w.faults != nil {
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer catchFault(w.faults, &err)
	}
	last := pos // one past the last word that is not zero
	for p := pos; p+8 <= w.capacity; p += 8 {
		word, err := w.load(p)
		if err != nil {
			return 0, err
		}
		if word != 0 {
			last = p + 8
		}
	}
	if last < w.capacity {
		last += 8 // and the word after it, where the next watermark would go
	}
	for p := last; p > pos; {
		p -= 8
		if err := w.store(p, Watermark); err != nil {
			return 0, err
		}
	}
	return last - pos, nil
}

// Release gives the channel up without closing it: it flushes and closes
// the storage (for the mmap backend this unmaps the file and drops the
// writer's lock) but writes no close mark. Readers then find the channel
// as a writer whose process died leaves it (ErrWriterGone where the
// storage can tell, else ErrTimeout), and Resume can carry on appending
// later. After Release every Writer method returns ErrWriterClosed, and
// Close and Release do nothing.
func (w *Writer[T]) Release() error {
	if w.closed {
		return nil
	}
	if w.multi != nil {
		return w.leaveMulti(false)
	}
	var aborted error
	if w.claimed != 0 {
		aborted = w.abortClaim()
	}
	w.closed, w.blocked = true, true
	w.stopClock()
	return multierr.Combine(aborted, w.guard(w.markProgress), w.st.Flush(), w.st.Close())
}
