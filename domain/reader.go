package domain

import (
	"fmt"
	"iter"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/kekbit-go/kekbit/ports"
)

// Reader follows one channel from a position of its own. Any number of
// readers, in any process, may read a channel while its writer appends. A
// Reader is not safe for concurrent use.
//
// Payloads handed out alias the channel's memory when the storage is
// addressable and a buffer of the reader's otherwise: either way they are
// valid only until the handler returns (or the iterator moves on) and must
// not be modified. Copy what you keep.
//
// A channel file that another process cuts short under a mapped reader:
// pages past the new end fault, and the reader reports ErrTruncated instead
// of crashing; but the rest of the page the cut falls in reads as zeros,
// so a record crossing the cut inside that page can be handed out with
// zeros for its lost bytes, once. The reader asks the file's size whenever
// it idles (at most once a millisecond) and after a truncation, and stops
// at the new end from then on.
type Reader struct {
	st       ports.Storage
	mem      []byte
	words    []uint64
	scratch  []byte
	hdr      Header
	capacity uint64
	maxMsg   uint64
	fileEnd  uint64 // data-region bytes inside the storage
	pos      uint64
	word     uint64 // the last length word examined, for error details

	timeout   time.Duration
	now       func() time.Time
	idling    bool      // the last read found nothing new
	idleSince time.Time // when that started

	faults  ports.FaultProne // the storage, if its memory can vanish
	live    ports.Liveness   // the storage, if it can tell the writer is alive
	sizer   ports.Sizer      // the storage, if its size can change under it
	sizedAt time.Time        // when the size was last asked for
	wait    Wait             // how Follow waits

	err    error // end of the last Records loop
	closed bool
}

// ReaderOption configures a Reader.
type ReaderOption func(*Reader)

// WithClock makes the reader measure its timeout with now instead of
// time.Now.
func WithClock(now func() time.Time) ReaderOption {
	return func(r *Reader) { r.now = now }
}

// NewReader reads and validates the header of st and returns a reader at
// position 0. A header error is a *HeaderError. The reader owns st: Close
// closes it; on error st stays open and the caller closes it.
func NewReader(st ports.Storage, opts ...ReaderOption) (*Reader, error) {
	h, err := readHeader(st)
	if err != nil {
		return nil, err
	}
	size := st.Size()
	r := &Reader{
		st:       st,
		hdr:      h,
		capacity: uint64(h.Capacity),
		maxMsg:   uint64(h.MaxMsgLen),
		fileEnd:  uint64(max(size-DataOffset, 0)),
		timeout:  h.TimeoutDuration(),
		now:      time.Now,
		wait:     DefaultWait,
	}
	r.mem, r.words = addressable(st)
	if r.mem != nil {
		r.faults, _ = st.(ports.FaultProne)
	}
	r.live, _ = st.(ports.Liveness)
	if size < h.FileSize() {
		// A file sized as the Rust crate sizes it: its writer takes no
		// lock, so a lock probe cannot tell whether it is alive.
		r.live = nil
	}
	r.sizer, _ = st.(ports.Sizer)
	if r.mem == nil {
		r.scratch = make([]byte, r.maxMsg)
	}
	for _, o := range opts {
		o(r)
	}
	return r, nil
}

// readHeader reads and validates the header at the start of st.
func readHeader(st ports.Storage) (Header, error) {
	if size := st.Size(); size < HeaderLen {
		return Header{}, &HeaderError{Field: "length", Want: fmt.Sprintf(">= %d bytes", HeaderLen), Got: uint64(max(size, 0))}
	}
	b := make([]byte, HeaderLen)
	if _, err := st.ReadAt(b, 0); err != nil {
		return Header{}, fmt.Errorf("kekbit: reading the header: %w", err)
	}
	return DecodeHeader(b)
}

// Open opens channel channelID of vol for reading. It fails with the
// volume's error (ports.ErrChannelNotFound, ports.ErrChannelNotReady), a
// *HeaderError, or one for a header whose channel id is not channelID.
func Open(vol ports.Volume, channelID uint64, opts ...ReaderOption) (*Reader, error) {
	st, err := vol.Open(channelID)
	if err != nil {
		return nil, err
	}
	r, err := NewReader(st, opts...)
	if err == nil && r.hdr.ChannelID != channelID {
		err = &HeaderError{Field: "channel_id", Want: fmt.Sprintf("%d (%#x), the id it was opened by", channelID, channelID), Got: r.hdr.ChannelID}
	}
	if err != nil {
		st.Close()
		return nil, err
	}
	return r, nil
}

// Read hands the records from the reader's position to handler, up to max
// records (max <= 0: no limit), skipping heartbeats, and returns the bytes
// it advanced. It never blocks.
//
// The error says where the read stopped:
//   - nil: it handed out max records; there may be more.
//   - ErrNothingYet: it reached the writer's end; try again later.
//   - a *ReadError matching ErrClosed, ErrChannelFull, ErrCorrupt,
//     ErrTruncated or ErrTimeout: the channel ends here. Timeout means a
//     read found nothing new, not even a heartbeat, and a later read still
//     nothing once the header's timeout had passed since.
//   - ErrReaderClosed, or an I/O error of the storage.
func (r *Reader) Read(handler func(pos uint64, payload []byte), max int) (int, error) {
	if r.closed {
		return 0, ErrReaderClosed
	}
	start := r.pos
	if err := r.scan(handler, max); err != nil {
		return int(r.pos - start), r.end(start, err)
	}
	r.idling = false
	return int(r.pos - start), nil
}

// scan hands out up to max records and returns the sentinel that stopped
// it, or nil. On a storage whose memory can vanish, a fault touching it
// (in scan or in the handler) stops the scan with ErrTruncated.
func (r *Reader) scan(handler func(pos uint64, payload []byte), max int) (err error) {
	if r.faults != nil {
		old := debug.SetPanicOnFault(true)
		defer debug.SetPanicOnFault(old)
		defer catchFault(r.faults, &err)
	}
	for n := 0; max <= 0 || n < max; n++ {
		pos, payload, end, err := r.next()
		if err != nil {
			return err
		}
		handler(pos, payload)
		r.pos = end
	}
	return nil
}

// peekGuarded is peek with a fault in the storage's memory turned into
// ErrTruncated, for the places outside Read that look at the channel.
func (r *Reader) peekGuarded(pos uint64) (length, end uint64, err error) {
	if r.faults != nil {
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer catchFault(r.faults, &err)
	}
	return r.peek(pos)
}

// refreshSize asks the storage for its size now and, if the file was cut
// short since the reader last looked, moves the end of what it reads back.
func (r *Reader) refreshSize(now time.Time) {
	r.sizedAt = now
	if r.sizer == nil {
		return
	}
	if n, err := r.sizer.CurrentSize(); err == nil {
		r.fileEnd = min(r.fileEnd, uint64(max(n-DataOffset, 0)))
	}
}

// catchFault, deferred, recovers the panic of a memory fault inside fp's
// memory and sets *err to ErrTruncated; any other panic goes on.
func catchFault(fp ports.FaultProne, err *error) {
	e := recover()
	if e == nil {
		return
	}
	if !isFault(e, fp) {
		panic(e)
	}
	*err = ErrTruncated
}

// isFault reports whether e, a recovered panic, is a memory fault inside
// fp's memory.
func isFault(e any, fp ports.FaultProne) bool {
	f, ok := e.(interface{ Addr() uintptr })
	return ok && fp.Faulted(f.Addr())
}

// Records returns an iterator over the records available now, from the
// reader's position: (position, payload) pairs, heartbeats skipped. The
// loop ends at the writer's end or at the end of the channel; Err then says
// which. Breaking out of the loop leaves the reader after the last record
// yielded.
func (r *Reader) Records() iter.Seq2[uint64, []byte] {
	return func(yield func(uint64, []byte) bool) {
		r.err = nil
		if r.closed {
			r.err = ErrReaderClosed
			return
		}
		start := r.pos
		inBody := false // the loop body is running: its panics are its own
		if r.faults != nil {
			// One guard for the whole loop, not one per record. A fault in
			// the reader's own code ends the loop with ErrTruncated; a
			// panic in the loop body (a fault there included: it panics
			// rather than crashes) goes on untouched.
			defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
			defer func() {
				if inBody {
					return
				}
				if e := recover(); e != nil {
					if !isFault(e, r.faults) {
						panic(e)
					}
					r.err = r.end(start, ErrTruncated)
				}
			}()
		}
		for {
			pos, payload, end, err := r.next()
			if err != nil {
				if err = r.end(start, err); err != ErrNothingYet {
					r.err = err
				}
				return
			}
			r.pos = end
			inBody = true
			if !yield(pos, payload) {
				r.idling = false
				return
			}
			inBody = false
		}
	}
}

// Err returns why the last Records loop ended: nil when it caught up with
// the writer or was broken off, else the *ReadError (ErrClosed,
// ErrChannelFull, ErrCorrupt, ErrTruncated, ErrTimeout) or I/O error.
func (r *Reader) Err() error { return r.err }

// next returns the next record, skipping heartbeats; the caller moves
// past it (after handing it out, so that a fault while the handler reads
// the payload leaves the reader on the record). Its error is a bare
// sentinel (no allocation) or an I/O error.
func (r *Reader) next() (pos uint64, payload []byte, end uint64, err error) {
	for {
		pos = r.pos
		length, end, err := r.peek(pos)
		if err != nil {
			return pos, nil, 0, err
		}
		if length == HeartbeatLen {
			r.pos = end
			continue
		}
		start := DataOffset + pos + RecordHeaderLen
		if r.mem != nil {
			return pos, r.mem[start : start+length : start+length], end, nil
		}
		payload = r.scratch[:length]
		if _, err := r.st.ReadAt(payload, int64(start)); err != nil {
			return pos, nil, 0, fmt.Errorf("kekbit: reading record at position %d: %w", pos, err)
		}
		return pos, payload, end, nil
	}
}

// peek returns the length of the whole record or heartbeat at pos, or the
// sentinel saying why there is none.
func (r *Reader) peek(pos uint64) (length, end uint64, err error) {
	if pos+RecordHeaderLen >= r.capacity {
		return 0, 0, ErrChannelFull
	}
	if pos+RecordHeaderLen > r.fileEnd {
		r.word = 0
		return 0, 0, ErrTruncated
	}
	var word uint64
	if r.words != nil {
		word = atomic.LoadUint64(&r.words[(DataOffset+pos)/8])
	} else {
		var err error
		if word, err = r.st.LoadUint64(int64(DataOffset + pos)); err != nil {
			return 0, 0, fmt.Errorf("kekbit: loading length word at position %d: %w", pos, err)
		}
	}
	r.word = word
	switch {
	case word == Watermark:
		return 0, 0, ErrNothingYet
	case word == CloseMark:
		return 0, 0, ErrClosed
	case word > r.maxMsg:
		return 0, 0, ErrCorrupt
	}
	end = pos + RecordSize(word)
	if end > r.capacity {
		return 0, 0, ErrCorrupt
	}
	if end > r.fileEnd {
		return 0, 0, ErrTruncated
	}
	return word, end, nil
}

// end turns the sentinel that stopped a read begun at start into the error
// the caller sees, and keeps the timeout clock.
func (r *Reader) end(start uint64, err error) error {
	progressed := r.pos != start
	if progressed {
		r.idling = false
	}
	if err == ErrNothingYet {
		if progressed {
			return ErrNothingYet
		}
		now := r.now()
		if now.Sub(r.sizedAt) > time.Millisecond {
			r.refreshSize(now)
		}
		if !r.idling {
			r.idling, r.idleSince = true, now
			return ErrNothingYet
		}
		if now.Sub(r.idleSince) <= r.timeout {
			return ErrNothingYet
		}
		err = ErrTimeout
	}
	if err == ErrTruncated {
		r.refreshSize(r.now()) // the file may have been cut: later reads stop at its new end
	}
	switch err {
	case ErrClosed, ErrChannelFull, ErrCorrupt, ErrTruncated, ErrTimeout, ErrWriterGone:
		return &ReadError{Err: err, Position: r.pos, BytesRead: int(r.pos - start), Word: r.word}
	}
	return err
}

// MoveTo puts the reader at position pos, which must be the start of a
// record or the writer's current end, so reading resumes or replays from
// there. It returns an error wrapping ErrUnaligned for a position that is
// not a multiple of 8 or falls inside a record, and ErrUnavailable for one
// past what is written (or past a corrupt or truncated record). The reader
// is not moved on error.
func (r *Reader) MoveTo(pos uint64) error {
	if r.closed {
		return ErrReaderClosed
	}
	if pos%8 != 0 {
		return fmt.Errorf("%w: position %d is not a multiple of 8", ErrUnaligned, pos)
	}
	p, last := uint64(0), uint64(0) // last: the start of the record p ends
	if pos >= r.pos {
		p = r.pos
	}
	for p < pos {
		_, end, err := r.peekGuarded(p)
		if err != nil {
			if err == ErrNothingYet { // not a read's end: only "not there yet"
				return fmt.Errorf("%w: position %d: the writer is at %d", ErrUnavailable, pos, p)
			}
			return fmt.Errorf("%w: position %d: the channel ends at %d: %w", ErrUnavailable, pos, p, err)
		}
		last, p = p, end
	}
	if p != pos {
		return fmt.Errorf("%w: position %d is inside the record at %d", ErrUnaligned, pos, last)
	}
	r.pos, r.idling = pos, false
	return nil
}

// WriterAlive asks the storage whether the channel's writer still holds it
// (for the mmap backend: whether its process holds the file lock). It
// returns ErrLivenessUnknown if the storage cannot tell.
func (r *Reader) WriterAlive() (bool, error) {
	if r.closed {
		return false, ErrReaderClosed
	}
	if r.live == nil {
		return false, ErrLivenessUnknown
	}
	return r.live.WriterAlive()
}

// Position returns the position of the next record the reader will look at.
func (r *Reader) Position() uint64 { return r.pos }

// Header returns the channel's header.
func (r *Reader) Header() Header { return r.hdr }

// Close closes the reader's storage. A second Close returns nil.
func (r *Reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	return r.st.Close()
}
