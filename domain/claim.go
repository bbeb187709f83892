package domain

import (
	"errors"
	"fmt"
	"runtime/debug"
	"sync/atomic"

	"github.com/kekbit-go/kekbit/internal/atomicx"
)

// Errors of the claim API.
var (
	// ErrClaimOpen is returned by Write, Heartbeat and Claim while a claim
	// is open: commit or abort it first.
	ErrClaimOpen = errors.New("kekbit: a claim is open: commit or abort it first")
	// ErrNoClaim is returned by Commit and Abort when no claim is open.
	ErrNoClaim = errors.New("kekbit: no claim is open")
	// ErrCommitSize is returned by Commit for more bytes than the claim
	// holds. The claim stays open.
	ErrCommitSize = errors.New("kekbit: commit larger than its claim")
)

// Claim reserves room for a record of up to n payload bytes and returns
// those bytes, in the channel itself where the storage is addressable (a
// mapped file, memory) and in a buffer otherwise, for the caller to fill
// in place: no copy. Commit(m) then publishes the first m of them as one
// record; Abort gives the room up. Until one of them, the claim is the
// writer's only open operation: Write, Heartbeat and another Claim return
// ErrClaimOpen.
//
// Errors, on which no claim is open: ErrEmptyPayload (n < 1),
// ErrRecordTooLarge (n above the max payload), ErrNoSpace (n fits the max
// payload but not the space left), ErrChannelFull, ErrWriterClosed. On a
// multi-writer channel a claim that does not fit the space left ends the
// channel for every writer instead (the rest becomes heartbeats, readers
// end "full"): ErrChannelFull, never ErrNoSpace; and a channel another
// writer closed is ErrChannelClosed.
//
// The bytes returned are valid until Commit or Abort. Filling them is the
// caller's own access to the channel's memory: WithFaultGuard does not
// cover it.
func (w *Writer[T]) Claim(n int) ([]byte, error) {
	if n >= 1 && uint64(n) <= w.maxPayload && w.mem != nil {
		// The common case first: a single writer (a multi-writer channel's
		// is blocked) with no claim open on mapped memory, and room for n
		// bytes.
		if pos := w.pos; !w.blocked && uint64(n)+RecordHeaderLen+w.envLen <= (w.capacity-pos)&^7 {
			w.claimed, w.blocked = uint64(n), true
			start := pos + RecordHeaderLen + w.envLen
			return w.mem[start : start+uint64(n) : pos+RecordHeaderLen+Align8(w.envLen+uint64(n))], nil
		}
		if m := w.multi; m != nil && w.claimed == 0 && !w.closed && !m.ended {
			// A multi-writer channel's claim that fits, by one swap won at
			// once; anything else (a lost swap, a closed or full channel)
			// is reserve's.
			size := RecordSize(w.envLen + uint64(n))
			t := atomic.LoadUint64(m.tail)
			if pos := (t & tailPosMask) * 8; t&tailClosed == 0 && pos+size <= w.capacity && m.swap(t, t+size/8+1<<32, size) {
				w.pos, m.count, m.size, w.claimed = pos, (t>>32)&countMask, size, uint64(n)
				start := pos + RecordHeaderLen + w.envLen
				return w.mem[start : start+uint64(n) : pos+size], nil
			}
		}
	}
	return w.claim(n)
}

// claim is Claim's general case, and its errors.
func (w *Writer[T]) claim(n int) ([]byte, error) {
	switch {
	case w.closed:
		return nil, ErrWriterClosed
	case w.claimed != 0:
		return nil, ErrClaimOpen
	case w.multi != nil:
		return w.claimMulti(n)
	case n < 1:
		return nil, ErrEmptyPayload
	case uint64(n) > w.maxPayload:
		return nil, w.claimTooLarge(n)
	}
	avail := (w.capacity - w.pos) &^ 7
	if avail <= RecordHeaderLen+w.envLen {
		return nil, ErrChannelFull
	}
	if left := avail - RecordHeaderLen - w.envLen; uint64(n) > left {
		return nil, fmt.Errorf("%w: %d bytes left, the claim needs %d (max payload %d)", ErrNoSpace, left, n, w.maxPayload)
	}
	w.claimed, w.blocked = uint64(n), true
	return w.claimRoom()[w.envLen : w.envLen+uint64(n)], nil
}

// claimRoom is the open claim's record after its length word, its
// envelope included, to a whole number of words.
func (w *Writer[T]) claimRoom() []byte {
	return w.room(w.pos, Align8(w.envLen+w.claimed))
}

// Commit publishes the first m bytes of the open claim as one record (its
// envelope filled on a channel that has one) and closes the claim; the
// rest of the claim is given up. It returns the bytes the record takes.
// Errors: ErrNoClaim; ErrEmptyPayload (m < 1) and ErrCommitSize (m above
// the claim), on which the claim stays open; ErrTruncated with
// WithFaultGuard on memory that vanished.
func (w *Writer[T]) Commit(m int) (int, error) {
	if w.guarded {
		if mw := w.multi; mw != nil && !w.faultOn && w.claimed != 0 && m >= 1 && uint64(m) <= w.claimed {
			if pos := w.pos; w.envLen == 0 && uint64(m)+RecordHeaderLen == mw.size {
				// commitWhole, by hand: it does not inline (its release
				// store is a call), and the call costs Commit 10
				// instructions.
				atomicx.StoreRelease(&w.words[pos/8], uint64(m))
				w.claimed = 0
				w.records++
				return int(mw.size), nil
			}
			return w.commitMulti(m) // a multi-writer channel's, past commit's checks
		}
		return w.commitGuarded(m)
	}
	if claimed := w.claimed; claimed != 0 && w.envLen == 0 && w.words != nil && m >= 1 && uint64(m) <= claimed {
		// The common case apart: no envelope, on mapped memory (a
		// multi-writer channel's writer is guarded).
		pos, total := w.pos, uint64(m)
		size := RecordSize(total)
		if end := Align8(claimed); total < end {
			// what was claimed past m, the padding included, zero again
			clear(w.mem[pos+RecordHeaderLen+total : pos+RecordHeaderLen+end])
		}
		w.words[(pos+size)/8] = Watermark
		atomicx.StoreRelease(&w.words[pos/8], total)
		w.claimed, w.blocked = 0, w.closed
		w.pos += size
		if w.records++; w.records%progressEvery == 0 {
			w.markProgress()
		}
		return int(size), nil
	}
	return w.commit(m)
}

func (w *Writer[T]) commitGuarded(m int) (n int, err error) {
	if !w.faultOn { // a multi-writer channel's writer, unguarded
		return w.commit(m)
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer catchFault(w.faults, &err)
	return w.commit(m)
}

func (w *Writer[T]) commit(m int) (int, error) {
	switch {
	case w.claimed == 0:
		if w.closed {
			return 0, ErrWriterClosed
		}
		return 0, ErrNoClaim
	case m < 1:
		return 0, ErrEmptyPayload
	case uint64(m) > w.claimed:
		return 0, fmt.Errorf("%w: %d bytes of a claim of %d", ErrCommitSize, m, w.claimed)
	case w.multi != nil:
		return w.commitMulti(m)
	}
	rec := w.claimRoom()
	total := w.envLen + uint64(m)
	size := RecordSize(total)
	// What was claimed and not committed, padding included, is zero
	// again: past the write position the channel is zero but for the
	// watermark, and the envelope's CRC covers the padding (in the
	// scratch buffer of a storage that is not addressable too).
	clear(rec[total:])
	w.claimed, w.blocked = 0, w.closed
	if w.envLen != 0 {
		var now uint64
		if w.timeW != 0 {
			now = w.stampNow()
		}
		w.seal(rec[:size-RecordHeaderLen], total, w.records, now)
	}
	end, err := w.publish(w.pos, total)
	if err != nil {
		return 0, err
	}
	w.pos = end
	if w.records++; w.records%progressEvery == 0 {
		w.markProgress()
	}
	return int(size), nil
}

// Abort gives the open claim up: nothing is published, and the claimed
// bytes are zero again. It returns ErrNoClaim if no claim is open, or
// ErrTruncated on memory that vanished.
func (w *Writer[T]) Abort() error {
	if w.claimed == 0 {
		return ErrNoClaim
	}
	if w.multi != nil {
		return w.abortMulti()
	}
	return w.abortClaim()
}

// abortClaim is Abort of an open claim, also done by Close and Release.
func (w *Writer[T]) abortClaim() error {
	rec := w.claimRoom()
	w.claimed, w.blocked = 0, w.closed
	if w.mem == nil {
		return nil // the claim was in the scratch buffer
	}
	return w.guard(func() { clear(rec) })
}

// claimTooLarge is the error for a claim (or a verbatim payload: Write on
// a multi-writer channel claims its length) of n bytes above the max
// payload.
func (w *Writer[T]) claimTooLarge(n int) error {
	return fmt.Errorf("%w: a claim of %d bytes, the max payload is %d", ErrRecordTooLarge, n, w.maxPayload)
}
