package domain

import (
	"errors"
	"fmt"
	"runtime/debug"
	"sync/atomic"
	"time"

	"go.uber.org/multierr"

	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/internal/atomicx"
	"github.com/kekbit-go/kekbit/internal/crc32c"
	"github.com/kekbit-go/kekbit/ports"
)

// WriterOption configures a Writer.
type WriterOption func(*options)

type options struct {
	guard  bool
	now    func() time.Time
	coarse time.Duration // WithCoarseClock's resolution
}

// WithWriteClock makes the writer stamp the records of a channel whose
// envelope has EnvelopeTime with now instead of time.Now.
func WithWriteClock(now func() time.Time) WriterOption { return func(o *options) { o.now = now } }

// WithFaultGuard makes Write and Heartbeat on memory that can vanish (a
// mapped file that another process cuts short under the writer) return
// ErrTruncated instead of crashing the process with SIGBUS. It costs about
// 8ns per record, so it is off by default: the writer holds its file
// locked and its blocks reserved, and only a process ignoring the lock can
// cut it short. Close is always guarded.
func WithFaultGuard() WriterOption { return func(o *options) { o.guard = true } }

// Writer appends records to one channel. There is one writer per channel and
// it is not safe for concurrent use: guard it with a mutex if several
// goroutines write.
type Writer[T any] struct {
	// The fields of every Write first, close together.
	pos      uint64 // write position: where the next record goes
	records  uint64 // records in the channel, for the envelope's sequence numbers
	blocked  bool   // closed, or a claim open: Write and Heartbeat refused (one test on their path)
	closed   bool
	guarded  bool // Write and Heartbeat take their slow entry: a fault becomes ErrTruncated (WithFaultGuard), or a multi-writer channel's writer
	verbatim bool // enc declares that its encoding of a []byte is the bytes themselves
	fastSeal bool // Write of a record with a CRC takes writeSealedFast first
	enc      codecs.Encoder[T]
	region

	hdr         Header
	trial       []byte           // a max-length buffer, made on first need, to size a refused value
	maxPayload  uint64           // the longest payload: maxMsg less the envelope
	now         func() time.Time // the clock of the envelope's timestamps
	dropped     uint64           // bytes of a torn tail that Resume dropped
	coarseRes   time.Duration    // WithCoarseClock's resolution, 0 for none
	coarse      *coarseClock     // that clock, from the first stamped record on
	coarseTicks *atomic.Uint64   // its word in the channel's tick unit
	marks       bool             // the writer keeps a progress mark (a channel with the extension block)
	claimed     uint64           // the payload bytes of the open claim (Claim), 0 for none
	progress    *uint64          // the progress mark's word, when the storage is addressable
	multi       *multiWriter     // a multi-writer channel's writer state, else nil
	faultOn     bool             // WithFaultGuard on memory that can vanish
}

// NewWriter makes st, a fresh zero-filled storage of at least
// h.FileSize() bytes, into a channel: it writes the header and the first
// heartbeat, and returns the writer positioned after it. Values are encoded
// with enc.
func NewWriter[T any](st ports.Storage, h Header, enc codecs.Encoder[T], opts ...WriterOption) (*Writer[T], error) {
	if err := h.Validate(); err != nil {
		return nil, err
	}
	w, err := attach(st, h, enc, opts)
	if err != nil {
		return nil, err
	}
	hb := make([]byte, ExtOffset+ExtLen)
	h.put(hb)
	if _, err := st.WriteAt(hb, 0); err != nil {
		return nil, fmt.Errorf("kekbit: writing the header: %w", err)
	}
	if h.MultiWriter {
		// No first heartbeat: the prefill's watermark is there for readers,
		// and the tail starts at 0.
		if err := w.initMulti(); err != nil {
			return nil, err
		}
		w.prefill()
		atomic.StoreUint64(w.multi.tail, 0)
		if err := w.takeSlot(0); err != nil {
			return nil, err
		}
		return w, nil
	}
	if w.pos, err = w.publish(0, HeartbeatLen); err != nil {
		return nil, err
	}
	w.markProgress()
	return w, nil
}

// attach makes a writer for header h on st, at position 0, without writing
// anything.
func attach[T any](st ports.Storage, h Header, enc codecs.Encoder[T], opts []WriterOption) (*Writer[T], error) {
	if st.Size() < h.FileSize() {
		return nil, fmt.Errorf("%w: %d bytes, channel of capacity %d needs %d", ErrStorageTooSmall, st.Size(), h.Capacity, h.FileSize())
	}
	w := &Writer[T]{region: newRegion(st, h), enc: enc, hdr: h, now: time.Now}
	w.maxPayload = w.maxMsg - w.envLen
	if v, ok := any(enc).(codecs.Verbatim); ok {
		_, isBytes := any(enc).(codecs.Encoder[[]byte])
		w.verbatim = isBytes && v.Verbatim()
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	w.guarded = o.guard && w.faults != nil
	w.faultOn = w.guarded
	w.marks = h.extended()
	if a, ok := st.(ports.Addressable); ok && littleEndian && w.marks {
		if ws := a.Words(); len(ws) > ProgressOffset/8 {
			w.progress = &ws[ProgressOffset/8]
		}
	}
	if o.now != nil {
		w.now = o.now
	} else {
		w.coarseRes = o.coarse
	}
	// writeSealedFast's case: a verbatim []byte on mapped memory, a CRC
	// the assembly computes and publishes, a time (if any) from a coarse
	// clock.
	w.fastSeal = w.verbatim && w.crcOn && w.words != nil && crc32c.Accelerated && atomicx.ReleaseIsPlain &&
		(w.timeW == 0 || w.coarseRes != 0)
	return w, nil
}

// Create makes a new channel in vol for header h and returns its writer.
// Readers cannot open the channel until its header and first heartbeat are
// in place. It fails if the channel id is taken (ports.ErrChannelExists).
func Create[T any](vol ports.Volume, h Header, enc codecs.Encoder[T], opts ...WriterOption) (*Writer[T], error) {
	if err := h.Validate(); err != nil {
		return nil, err
	}
	var w *Writer[T]
	_, err := vol.Create(h.ChannelID, h.FileSize(), func(st ports.Storage) error {
		var err error
		w, err = NewWriter(st, h, enc, opts...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return w, nil
}

// Write encodes v straight into the channel and publishes it as one record.
// It returns the bytes the record takes: length word, payload and padding.
//
// Errors, on which nothing is published:
//   - ErrChannelFull: no record fits any more (terminal);
//   - ErrNoSpace: v fits the max record length but not the space left; a
//     smaller value may still fit (a journal rolls to its next channel here);
//   - ErrRecordTooLarge: v needs more than the max record length;
//   - ErrEmptyPayload: v encodes to nothing, which the format cannot tell
//     from a heartbeat;
//   - ErrEncoding: the encoder failed;
//   - ErrWriterClosed.
//
// All but ErrChannelFull and ErrWriterClosed leave the writer usable. On
// a multi-writer channel a record that does not fit the space left ends
// the channel for every writer (ErrChannelFull, never ErrNoSpace), and
// one another writer closed is ErrChannelClosed.
func (w *Writer[T]) Write(v T) (int, error) {
	if w.guarded {
		if w.multi != nil && !w.faultOn {
			return w.blockedWrite(v) // a multi-writer channel's, unguarded: no deferred call's frame
		}
		return w.writeGuarded(v)
	}
	if w.envLen != 0 { // here, not in write: one call less for a sealed record
		if w.fastSeal {
			if n, ok := w.writeSealedFast(v); ok {
				return n, nil
			}
		}
		return w.writeSealed(v)
	}
	return w.write(v)
}

// WriteBatch writes the values of vs as records, in order, and returns
// how many went in: all of them, or those before the one whose error it
// returns (Write's errors), which with the rest did not go in.
//
// On a multi-writer channel it claims room for up to 64 records (16 KiB)
// by one swap of the tail, where Write takes one swap per record: the
// batch's records stand next to each other in the channel, with
// consecutive sequence numbers, and each is published as soon as it is
// filled. Writers that share a channel write batches far faster than
// records one by one, since each swap moves the tail's cache line
// between their cores. A writer that dies in the middle of a batch has
// its unpublished records repaired as void records, as any dead claim.
// The batch's values are encoded before its claim, and a value that would
// take the claim past 16 KiB is encoded again in the next one: an encoder
// is called once per value or a little more often. On any other channel
// it is Write, once per value.
func (w *Writer[T]) WriteBatch(vs []T) (int, error) {
	if w.multi == nil {
		for i, v := range vs {
			if _, err := w.Write(v); err != nil {
				return i, err
			}
		}
		return len(vs), nil
	}
	if !w.faultOn {
		return w.batchMulti(vs)
	}
	return w.batchGuarded(vs)
}

// batchGuarded is batchMulti with a fault of vanishing memory turned into
// ErrTruncated.
func (w *Writer[T]) batchGuarded(vs []T) (n int, err error) {
	before := w.records
	defer func() {
		if err != nil {
			n = int(w.records - before) // a fault: those published before it
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer catchFault(w.faults, &err)
	return w.batchMulti(vs)
}

// writeGuarded is Write's slow entry: write on memory that can vanish (a
// fault becomes ErrTruncated instead of a crash), or a multi-writer
// channel's write.
func (w *Writer[T]) writeGuarded(v T) (n int, err error) {
	if w.multi != nil && !w.faultOn {
		return w.blockedWrite(v)
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer catchFault(w.faults, &err)
	if w.multi != nil {
		return w.blockedWrite(v)
	}
	if w.envLen != 0 {
		return w.writeSealed(v)
	}
	return w.write(v)
}

// write is Write on a channel whose records carry no envelope.
func (w *Writer[T]) write(v T) (int, error) {
	if w.blocked {
		return 0, w.unusable()
	}
	avail := (w.capacity - w.pos) &^ 7
	if avail <= RecordHeaderLen {
		return 0, ErrChannelFull
	}
	room := min(w.maxMsg, avail-RecordHeaderLen)
	dst := w.room(w.pos, room)
	// encode, inlined by hand: the call costs a plain Write about 3ns.
	var n int
	var err error
	if b, ok := any(v).([]byte); w.verbatim && ok {
		if len(b) > len(dst) {
			err = codecs.ErrShortBuffer
		} else {
			n = copy(dst, b)
		}
	} else {
		n, err = w.enc.Encode(dst, v)
	}
	if err != nil || n <= 0 || uint64(n) > room {
		return 0, w.refuse(v, dst, n, err, room, avail)
	}
	size := RecordSize(uint64(n))
	if w.words == nil {
		if _, err := w.publishSlow(w.pos, uint64(n), size); err != nil {
			return 0, err
		}
	} else { // publishWords, inlined by hand (see there)
		pos, n := w.pos, uint64(n)
		if tail := n & 7; tail != 0 {
			w.words[(pos+RecordHeaderLen+n)/8] &= 1<<(8*tail) - 1
		}
		w.words[(pos+size)/8] = Watermark
		atomicx.StoreRelease(&w.words[pos/8], n)
	}
	w.pos += size
	w.records++ // a plain channel keeps no progress mark
	return int(size), nil
}

// writeSealed is write on a channel whose records carry an envelope: the
// value is encoded after it, then the envelope is filled (sequence number,
// time, and last the CRC) and the record published, and every
// progressEvery records the progress mark stored.
func (w *Writer[T]) writeSealed(v T) (int, error) {
	if w.blocked {
		return 0, w.unusable()
	}
	avail := (w.capacity - w.pos) &^ 7
	if avail <= RecordHeaderLen+w.envLen {
		return 0, ErrChannelFull // with an envelope a heartbeat may fit, a record never
	}
	var now uint64 // a running coarse clock is read before the payload's copy, off its path
	if t := w.coarseTicks; t != nil {
		now = t.Load()
	}
	room := min(w.maxMsg, avail-RecordHeaderLen)
	fit := room - w.envLen // the payload's room after the envelope
	// encode, inlined by hand (the call costs a plain Write about 3ns).
	// A verbatim payload is only measured here: it is copied below, with
	// its checksum taken in the same pass where the envelope has a CRC,
	// and the room's slices are made only where they are needed.
	var n int
	var rec, src []byte
	if b, ok := any(v).([]byte); w.verbatim && ok && len(b) > 0 && uint64(len(b)) <= fit {
		n, src = len(b), b
	} else { // the encoder, which also tells what is wrong with a verbatim payload
		var err error
		rec = w.room(w.pos, room)
		dst := rec[w.envLen:]
		if n, err = w.enc.Encode(dst, v); err != nil || n <= 0 || uint64(n) > fit {
			return 0, w.refuse(v, dst, n, err, fit, avail-w.envLen)
		}
	}
	total := w.envLen + uint64(n)
	size := RecordSize(total)
	if w.timeW != 0 && w.coarseTicks == nil {
		now = w.stampNow() // the caller's clock or time.Now, only for a record that goes in
	}
	if w.words == nil {
		if src != nil {
			rec = w.room(w.pos, room)
			copy(rec[w.envLen:], src)
		}
		return w.publishRecordSlow(rec, total, size, now)
	}
	// publishWords, and seal for an envelope, inlined by hand (see there).
	// The writer's fields are loaded before the first store into the
	// channel: the compiler cannot tell that the stores leave them alone,
	// and would load each again after them.
	pos, all, envLen := w.pos, w.words, w.envLen
	seqW, timeW, crcOn, seq := w.seqW, w.timeW, w.crcOn, w.seqBase+w.records
	words := all[pos/8 : pos/8+size/8+1] // the record and the word after it
	if seqW != 0 {
		words[seqW] = seq
	}
	if timeW != 0 {
		words[timeW] = now
	}
	if crcOn && src != nil && crc32c.Accelerated && atomicx.ReleaseIsPlain {
		// copied, padded, checksummed and published in one call of the
		// assembly: its CRC word, the watermark after it, the length word
		crc32c.SealRecordAccel(total, words, int(envLen/8), src, Watermark)
	} else {
		switch {
		case crcOn && src != nil: // copied, padded and checksummed in one pass
			words[1] = uint64(crc32c.CopyRecord(total, words, int(envLen/8), src))
		case src != nil:
			copy(w.room(pos, room)[envLen:], src)
			fallthrough
		default:
			if tail := total & 7; tail != 0 {
				words[(RecordHeaderLen+total)/8] &= 1<<(8*tail) - 1 // zero padding
			}
			if crcOn {
				words[1] = uint64(crc32c.Record(total, 0, words[2:size/8]))
			}
		}
		words[size/8] = Watermark
		atomicx.StoreRelease(&words[0], total)
	}
	w.pos += size
	if w.records++; w.records%progressEvery == 0 {
		w.markProgress()
	}
	return int(size), nil
}

// writeSealedFast is writeSealed's common case apart, where it has few
// values to keep (w.fastSeal): a payload of v's own bytes that fits, on
// mapped memory, with a CRC, copied, checksummed and published by one call
// of the assembly. It returns false, having stored nothing, in every other
// case (closed, full, a payload that is empty or does not fit, a coarse
// clock not started yet), for writeSealed to handle.
func (w *Writer[T]) writeSealedFast(v T) (int, bool) {
	b, _ := any(v).([]byte) // fastSeal: T is []byte
	pos, envLen, n := w.pos, w.envLen, uint64(len(b))
	avail := (w.capacity - pos) &^ 7
	if w.blocked || n == 0 || avail <= RecordHeaderLen+envLen || n > min(w.maxMsg, avail-RecordHeaderLen)-envLen {
		return 0, false
	}
	var now uint64
	if w.timeW != 0 {
		t := w.coarseTicks
		if t == nil {
			return 0, false
		}
		now = t.Load()
	}
	total := envLen + n
	size := RecordSize(total)
	words := w.words[pos/8 : pos/8+size/8+1] // the record and the word after it
	if w.seqW != 0 {
		words[w.seqW] = w.seqBase + w.records
	}
	if w.timeW != 0 {
		words[w.timeW] = now
	}
	crc32c.SealRecordAccel(total, words, int(envLen/8), b, Watermark)
	w.pos += size
	if w.records++; w.records%progressEvery == 0 {
		w.markProgress()
	}
	return int(size), true
}

// publishRecordSlow is the end of write on a storage reached through its
// methods: the record of total bytes (envelope included), encoded in rec,
// is sealed (with an envelope) and published.
func (w *Writer[T]) publishRecordSlow(rec []byte, total, size, now uint64) (int, error) {
	if w.envLen != 0 {
		clear(rec[total : size-RecordHeaderLen])
		w.seal(rec[:size-RecordHeaderLen], total, w.records, now)
	}
	if _, err := w.publishSlow(w.pos, total, size); err != nil {
		return 0, err
	}
	w.pos += size
	if w.records++; w.records%progressEvery == 0 {
		w.markProgress()
	}
	return int(size), nil
}

// unusable is the error of a Write or Heartbeat on a closed writer or
// one with a claim open.
func (w *Writer[T]) unusable() error {
	if w.closed {
		return ErrWriterClosed
	}
	return ErrClaimOpen
}

// refuse builds the error for a Write whose encoding did not give a
// publishable payload, and wipes what the encoder may have left in the
// channel past the write position.
func (w *Writer[T]) refuse(v T, dst []byte, n int, err error, room, avail uint64) error {
	if w.mem != nil {
		clear(dst)
	}
	switch {
	case errors.Is(err, codecs.ErrShortBuffer):
		if room < w.maxPayload && w.fitsMax(v) {
			return fmt.Errorf("%w: %d bytes left, the record needs more (max payload %d): %w",
				ErrNoSpace, avail-RecordHeaderLen, w.maxPayload, err)
		}
		return fmt.Errorf("%w: above the max payload, %d bytes: %w", ErrRecordTooLarge, w.maxPayload, err)
	case err != nil:
		return fmt.Errorf("%w: %s: %w", ErrEncoding, w.enc.MediaType(), err)
	case n == 0:
		return ErrEmptyPayload
	}
	return fmt.Errorf("%w: encoder reported %d bytes for a room of %d", ErrEncoding, n, room)
}

// fitsMax reports whether v, refused for the space left, would fit a record
// of the max length: it encodes v again into a buffer of that length, made
// on first need (this is the error path only).
func (w *Writer[T]) fitsMax(v T) bool {
	if b, ok := any(v).([]byte); w.verbatim && ok {
		return uint64(len(b)) <= w.maxPayload
	}
	if w.trial == nil {
		w.trial = make([]byte, w.maxPayload)
	}
	n, err := w.enc.Encode(w.trial, v)
	return err == nil && n > 0 && uint64(n) <= w.maxPayload
}

// Heartbeat appends a heartbeat, a record with no payload that readers skip
// but that tells them the writer is alive. It returns 8, or ErrChannelFull
// or ErrWriterClosed.
func (w *Writer[T]) Heartbeat() (int, error) {
	if w.guarded {
		return w.heartbeatGuarded()
	}
	return w.heartbeat()
}

func (w *Writer[T]) heartbeatGuarded() (n int, err error) {
	if w.multi != nil && !w.faultOn {
		return w.blockedHeartbeat()
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer catchFault(w.faults, &err)
	if w.multi != nil {
		return w.blockedHeartbeat()
	}
	return w.heartbeat()
}

func (w *Writer[T]) heartbeat() (int, error) {
	if w.blocked {
		return 0, w.unusable()
	}
	if (w.capacity-w.pos)&^7 <= RecordHeaderLen {
		return 0, ErrChannelFull
	}
	end, err := w.publish(w.pos, HeartbeatLen)
	if err != nil {
		return 0, err
	}
	w.pos = end
	w.markProgress()
	return RecordHeaderLen, nil
}

// Flush asks the storage to make what was written durable (msync, fsync).
// Records are visible to readers without it.
func (w *Writer[T]) Flush() error {
	if w.closed {
		return ErrWriterClosed
	}
	if err := w.guard(w.markProgress); err != nil {
		return err
	}
	return w.st.Flush()
}

// Close writes the close mark, so readers learn the channel is over, then
// flushes and closes the storage. The errors of all three steps are
// combined. A second Close does nothing and returns nil.
func (w *Writer[T]) Close() error {
	if w.closed {
		return nil
	}
	if w.multi != nil {
		return w.leaveMulti(true)
	}
	var aborted error
	if w.claimed != 0 {
		aborted = w.abortClaim()
	}
	w.closed, w.blocked = true, true
	w.stopClock()
	var err error
	if w.envLen != 0 {
		// The trailer first: a reader that finds the close mark finds the
		// trailer too, and so can tell a lost tail from a clean end.
		var t [TrailerLen]byte
		putTrailer(t[:], trailer{closedAt: w.pos, records: w.records})
		if _, err = w.st.WriteAt(t[:], TrailerOffset); err != nil {
			err = fmt.Errorf("kekbit: writing the close trailer: %w", err)
		}
	}
	if err == nil {
		err = w.markClosed()
	}
	return multierr.Combine(aborted, err, w.st.Flush(), w.st.Close())
}

// markClosed stores the close mark, guarded against a fault.
func (w *Writer[T]) markClosed() (err error) {
	if w.faults != nil {
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer catchFault(w.faults, &err)
	}
	w.markProgress()
	return w.store(w.pos, CloseMark)
}

// guard runs f, a step that touches the channel's memory outside Write and
// Heartbeat, turning a fault of vanishing memory into ErrTruncated.
func (w *Writer[T]) guard(f func()) (err error) {
	if w.faults != nil {
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer catchFault(w.faults, &err)
	}
	f()
	return nil
}

// Records returns how many records the channel holds: those this writer
// wrote, and for a resumed channel those before it.
//
// On a multi-writer channel it is the records all its writers claimed so
// far (void records of aborted and repaired claims included).
func (w *Writer[T]) Records() uint64 {
	if w.multi != nil {
		_, n := w.multiTail()
		return n
	}
	return w.records
}

// Dropped returns the bytes of a torn tail that Resume dropped: records
// after the last one that passed verification, and whatever a crash left
// beyond them. 0 for a writer that Create made.
func (w *Writer[T]) Dropped() uint64 { return w.dropped }

// Available returns the bytes left in the data region, rounded down to 8.
// On a multi-writer channel: left after every writer's claims so far.
func (w *Writer[T]) Available() uint32 {
	if w.multi != nil {
		pos, _ := w.multiTail()
		return uint32((w.capacity - pos) &^ 7)
	}
	return uint32((w.capacity - w.pos) &^ 7)
}

// WriteOffset returns the write position: the bytes written to the data
// region so far.
// On a multi-writer channel: where the next claim of any writer goes.
func (w *Writer[T]) WriteOffset() uint32 {
	if w.multi != nil {
		pos, _ := w.multiTail()
		return uint32(pos)
	}
	return uint32(w.pos)
}

// Header returns the channel's header.
func (w *Writer[T]) Header() Header { return w.hdr }

// Format returns the channel's data format.
func (w *Writer[T]) Format() codecs.Format { return w.enc }
