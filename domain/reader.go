package domain

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"iter"
	"runtime/debug"
	"sync/atomic"
	"time"

	"go.uber.org/multierr"

	"github.com/kekbit-go/kekbit/internal/crc32c"
	"github.com/kekbit-go/kekbit/ports"
)

// Record is one record a reader hands out.
type Record struct {
	// Position is where the record starts in the data region.
	Position uint64
	// Payload is the record's bytes (after the envelope, on a channel with
	// one). It aliases the channel's memory (or the reader's buffer) and is
	// valid only until the handler returns or the iterator moves on; it
	// must not be modified. Copy what you keep.
	Payload []byte

	next uint64 // the position after the record
}

// Next returns the position after the record, where the reader goes on. A
// consumer that stores Next of each record it handled resumes after a
// restart with MoveTo(Next): the next record, never a repeat.
func (r Record) Next() uint64 { return r.next }

// Reader follows one channel from a position of its own. Any number of
// readers, in any process, may read a channel while its writer appends. A
// Reader is not safe for concurrent use.
//
// Every way of reading (Read, Records, Follow, FollowRecords) hands out
// records the same way: a [Record] with its position and the position
// after it, and Position() is always the position after the last record
// handed out, inside a handler or a loop body too.
//
// A channel file that another process cuts short under a mapped reader:
// pages past the new end fault, and the reader reports ErrTruncated instead
// of crashing; but the rest of the page the cut falls in reads as zeros,
// so a record crossing the cut inside that page can be handed out with
// zeros for its lost bytes, once. The reader asks the file's size whenever
// it idles (at most once a millisecond) and after a truncation, and stops
// at the new end from then on.
type Reader struct {
	region
	hdr     Header
	fileEnd uint64 // data-region bytes inside the storage
	pos     uint64 // the position after the last record handed out
	word    uint64 // the last length word examined, for error details
	clock   idleClock
	watch   watch
	wait    Wait  // how Follow waits
	err     error // end of the last Records loop
	closed  bool

	// On a channel whose records carry an envelope:
	records uint64 // records before pos, for the sequence numbers
	vPos    uint64 // with vEnd, records from vPos up to vEnd whose CRC verifyAhead checked in this read; vPos is the next one's position
	vEnd    uint64
	callMax uint64   // the records this read may hand out at most, 0 for no limit
	callRec uint64   // records before the read's first
	sealed  sealed   // what the envelope of the last record handed out says
	bad     mismatch // what failed in the record that ended the read
	index   seekIndex

	multiBound time.Duration // WithClaimBound's bound, 0 for the default

	multi *readerMulti // a multi-writer channel's: claims of dead writers
}

// ReaderOption configures a Reader.
type ReaderOption func(*Reader)

// WithClock makes the reader measure its timeout with now instead of
// time.Now.
func WithClock(now func() time.Time) ReaderOption {
	return func(r *Reader) { r.clock.now = now }
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
		region:  newRegion(st, h),
		hdr:     h,
		fileEnd: uint64(max(size-DataOffset, 0)),
		clock:   idleClock{timeout: h.TimeoutDuration(), now: time.Now},
		watch:   newWatch(st, size >= h.FileSize()),
		wait:    DefaultWait,
	}
	for _, o := range opts {
		o(r)
	}
	if h.MultiWriter {
		r.multi = newReaderMulti(st, h, r.multiBound)
	}
	return r, nil
}

// readHeader reads and validates the header at the start of st.
func readHeader(st ports.Storage) (Header, error) {
	if size := st.Size(); size < HeaderLen {
		return Header{}, &HeaderError{Field: "length", Want: fmt.Sprintf(">= %d bytes", HeaderLen), Got: uint64(max(size, 0))}
	}
	b := make([]byte, min(st.Size(), ExtOffset+ExtLen))
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
// it advanced. It never blocks (but through the file backend, whose
// reads can see a length word half written, it reads an impossible one
// again for up to about 100 ms before it calls it corrupt).
//
// The error says where the read stopped:
//   - nil: it handed out max records; there may be more.
//   - ErrNothingYet: it reached the writer's end; try again later.
//   - a *ReadError matching ErrClosed, ErrChannelFull, ErrCorrupt,
//     ErrTruncated or ErrTimeout: the channel ends here. Timeout means a
//     read found nothing new, not even a heartbeat, and a later read still
//     nothing once the header's timeout had passed since.
//   - the error handler returned, as it is: the reader stands after the
//     record the handler refused.
//   - ErrReaderClosed, or an I/O error of the storage.
func (r *Reader) Read(handler func(Record) error, max int) (int, error) {
	if r.closed {
		return 0, ErrReaderClosed
	}
	start := r.pos
	stop, err := r.scan(handler, max)
	if stop != nil {
		r.clock.moved()
		return int(r.pos - start), stop
	}
	if err != nil {
		return int(r.pos - start), r.end(start, err)
	}
	r.clock.moved()
	return int(r.pos - start), nil
}

// scan hands out up to max records. It returns the handler's error if the
// handler stopped it, else the sentinel that stopped it, or nil. On a
// storage whose memory can vanish, a fault touching it (in scan or in the
// handler) stops the scan with ErrTruncated, the reader left on the record
// it was handing out.
func (r *Reader) scan(handler func(Record) error, max int) (stop, err error) {
	if max > 0 {
		r.newRead(uint64(max))
	} else {
		r.newRead(0)
	}
	if r.faults != nil {
		at := r.pos
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer func() {
			if e := recover(); e != nil {
				if !isFault(e, r.faults) {
					panic(e)
				}
				r.pos, err = at, ErrTruncated
			}
		}()
		for n := 0; max <= 0 || n < max; n++ {
			pos, end, p, err := r.next()
			if err != nil {
				return nil, err
			}
			at, r.pos = pos, end
			if err := handler(Record{Position: pos, Payload: p, next: end}); err != nil {
				return err, nil
			}
			at = r.pos
		}
		return nil, nil
	}
	for n := 0; max <= 0 || n < max; n++ {
		pos, end, p, err := r.next()
		if err != nil {
			return nil, err
		}
		r.pos = end
		if err := handler(Record{Position: pos, Payload: p, next: end}); err != nil {
			return err, nil
		}
	}
	return nil, nil
}

// refreshSize asks the storage for its size now and, if the file was cut
// short since the reader last looked, moves the end of what it reads back.
func (r *Reader) refreshSize(now time.Time) {
	if n, ok := r.watch.currentSize(now); ok {
		r.fileEnd = min(r.fileEnd, uint64(max(n-DataOffset, 0)))
	}
}

// Records returns an iterator over the records available now, from the
// reader's position, heartbeats skipped. The loop ends at the writer's end
// or at the end of the channel; Err then says which. Breaking out of the
// loop leaves the reader after the last record yielded.
func (r *Reader) Records() iter.Seq[Record] {
	return func(yield func(Record) bool) {
		r.err = nil
		if r.closed {
			r.err = ErrReaderClosed
			return
		}
		start := r.pos
		r.newRead(0)
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
			pos, end, p, err := r.next()
			if err != nil {
				if err = r.end(start, err); err != ErrNothingYet {
					r.err = err
				}
				return
			}
			r.pos = end
			inBody = true
			if !yield(Record{Position: pos, Payload: p, next: end}) {
				r.clock.moved()
				return
			}
			inBody = false
		}
	}
}

// Err returns why the last Records or FollowRecords loop ended: nil when it
// caught up with the writer or was broken off, else the *ReadError
// (ErrClosed, ErrChannelFull, ErrCorrupt, ErrTruncated, ErrTimeout,
// ErrWriterGone), ctx.Err() for FollowRecords, or an I/O error.
func (r *Reader) Err() error { return r.err }

// next returns the next record (its position, the position after it and
// its payload), skipping heartbeats; the caller moves past it. Its error is
// a bare sentinel (no allocation) or an I/O error. It returns the fields
// rather than a Record: a struct result is copied through the stack in a
// way that stalls the processor, costing more than the whole rest of a
// read.
func (r *Reader) next() (pos, end uint64, payload []byte, err error) {
	for {
		pos = r.pos
		if r.crcOn && r.words != nil {
			if pos != r.vPos || pos >= r.vEnd {
				r.verifyAhead(pos) // r.vPos = pos
			}
			if pos < r.vEnd { // a record whose CRC verifyAhead checked
				word := atomic.LoadUint64(&r.words[pos/8])
				if end := pos + RecordSize(word); end <= r.fileEnd {
					if r.take(pos) {
						r.vPos = end
						return pos, end, r.sealedPayload(pos, word), nil
					}
				}
				r.vEnd = pos // the sequence number is wrong, or the file was cut: as any other record
			}
		}
		word, end, err := r.classify(pos, r.fileEnd)
		if err != nil {
			if err == ErrNothingYet && r.multi != nil && r.unstick(pos) {
				continue
			}
			r.word = word
			return pos, 0, nil, err
		}
		if word == HeartbeatLen {
			r.pos = end
			continue
		}
		if r.envLen != 0 {
			// With the CRC, a good record was handed out above: one here
			// failed verifyAhead, and verify tells why.
			if r.words != nil && word > r.envLen && !r.crcOn {
				if r.take(pos) {
					return pos, end, r.sealedPayload(pos, word), nil
				}
			}
			p, s, bad, err := r.verify(pos, word, end, r.records)
			if err != nil {
				r.word, r.bad = word, bad
				return pos, 0, nil, err
			}
			if word == r.envLen { // a void record of a multi-writer channel: counted, not handed out
				r.records++
				r.pos = end
				continue
			}
			r.records, r.sealed = r.records+1, s
			return pos, end, p, nil
		}
		if r.mem != nil {
			start := pos + RecordHeaderLen
			return pos, end, r.mem[start : start+word : start+word], nil
		}
		p, err := r.payloadSlow(pos, word)
		return pos, end, p, err
	}
}

// take counts the record at pos, on an addressable storage, whose CRC
// (if the envelope has one) is checked, and keeps what its envelope says,
// once its sequence number is checked. It reports false, changing
// nothing, for a wrong sequence number, which verify then reports.
func (r *Reader) take(pos uint64) bool {
	seq := r.seqBase + r.records
	if r.seqW != 0 && r.words[pos/8+r.seqW] != seq {
		return false
	}
	r.records, r.sealed.seq = r.records+1, seq
	if r.timeW != 0 {
		r.sealed.time = r.words[pos/8+r.timeW]
	}
	return true
}

// sealedPayload is the user's payload, after the envelope, of the
// record of length word at pos on an addressable storage.
func (r *Reader) sealedPayload(pos, word uint64) []byte {
	at := pos + RecordHeaderLen
	return r.mem[at+r.envLen : at+word : at+word]
}

// aheadRecords is how many records verifyAhead checks at most in one
// go: enough for the call's cost to be shared, few enough that a reader
// taking one record now and then does not check many it may never take.
const aheadRecords = 16

// verifyAhead checks the CRC of the run of records from pos on (at most
// aheadRecords of them, no more than the read may still take, up to the
// file's end and the capacity) in one call, for next to hand them out
// without checking each again. Any record it does not pass (a heartbeat,
// the watermark, a mark, a damaged record) ends the run, for next's own
// checks to tell what it is. A run is only ever used from its start,
// record by record, so a reader moved anywhere else checks again from
// there.
func (r *Reader) verifyAhead(pos uint64) {
	budget := uint64(aheadRecords)
	if r.callMax != 0 {
		budget = min(budget, r.callMax-min(r.callMax, r.records-r.callRec))
	}
	r.vPos, r.vEnd = pos, crc32c.VerifyRun(r.words, pos, min(r.fileEnd, r.capacity), r.maxMsg, r.envLen, int(budget))
}

// newRead starts a read (a Read, a Records loop) that hands out at most
// max records (0: no limit). A record whose CRC an earlier read checked
// is checked again: a reader hands out a record checked in the same read.
func (r *Reader) newRead(max uint64) {
	r.vEnd, r.callMax, r.callRec = 0, max, r.records
}

// end turns the sentinel that stopped a read begun at start into the error
// the caller sees, and keeps the timeout clock.
func (r *Reader) end(start uint64, err error) error {
	progressed := r.pos != start
	if progressed {
		r.clock.moved()
	}
	if err == ErrNothingYet {
		if progressed {
			return ErrNothingYet
		}
		now := r.clock.now()
		if r.watch.due(now) {
			r.refreshSize(now)
		}
		if !r.clock.expired(now) {
			return ErrNothingYet
		}
		err = ErrTimeout
	}
	if err == ErrTruncated {
		r.refreshSize(r.clock.now()) // the file may have been cut: later reads stop at its new end
	}
	if r.envLen != 0 && (err == ErrClosed || err == ErrChannelFull) {
		err = r.checkTrailer(err)
	}
	if r.envLen != 0 && err == ErrChannelFull && r.lostTail() {
		r.word, r.bad = 0, mismatch{"end", Watermark, 0}
		err = ErrCorrupt
	}
	switch err {
	case ErrClosed, ErrChannelFull, ErrCorrupt, ErrTruncated, ErrTimeout, ErrWriterGone:
		re := &ReadError{Err: err, Position: r.pos, BytesRead: int(r.pos - start), Word: r.word}
		if err == ErrCorrupt && r.bad.check != "" {
			re.Check, re.Want, re.Got = r.bad.check, r.bad.want, r.bad.got
		}
		r.bad = mismatch{}
		return re
	}
	return err
}

// lostTail reports whether a read that reached the capacity came there
// through zeros that no writer published: a writer that fills the channel
// leaves the watermark (or, closing it, the close mark) at its end, so a
// zero word there means the tail was lost (a page of zeros reads as
// heartbeats). It cannot tell on a file cut short before that word.
func (r *Reader) lostTail() bool {
	word, ok := r.endWord()
	return ok && word == 0
}

// endWord loads (acquire) the word at the reader's position, past which
// nothing fits: where a writer that filled the channel leaves its
// watermark or close mark. ok is false on a file cut short before it, or
// whose memory vanished.
func (r *Reader) endWord() (word uint64, ok bool) {
	if r.pos+RecordHeaderLen > r.fileEnd {
		return 0, false
	}
	if r.faults != nil {
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer func() {
			if e := recover(); e != nil {
				if !isFault(e, r.faults) {
					panic(e)
				}
				word, ok = 0, false
			}
		}()
	}
	word, err := r.load(r.pos)
	return word, err == nil
}

// checkTrailer checks the end of an enveloped channel, closed or full,
// against the close trailer its writer left, if it left one: a reader that
// ends anywhere else, or after another number of records, lost some (a
// page of zeros reads as heartbeats). A closed channel whose trailer bytes
// are not zero but hold no valid trailer was damaged: its writer wrote the
// trailer whole before the close mark. (A full channel's may be torn: its
// writer can die inside Close.) It returns end, or ErrCorrupt.
func (r *Reader) checkTrailer(end error) error {
	if end == ErrChannelFull {
		// The writer stores the trailer before the close mark, and at a
		// full channel's end the close mark goes at the reader's position:
		// while the writer's watermark is still there (loaded with acquire
		// ordering), the trailer may be in the writing. (A zero word there
		// is a lost tail, which the trailer, if any, tells more of.)
		if word, ok := r.endWord(); ok && word == Watermark {
			return end
		}
	}
	var b [TrailerLen]byte
	if _, err := r.st.ReadAt(b[:], TrailerOffset); err != nil {
		return end
	}
	t, ok, present := decodeTrailer(b[:])
	if !ok && present && end == ErrClosed {
		le := binary.LittleEndian
		r.word, r.bad = le.Uint64(b[:]), mismatch{"trailer_crc", uint64(crc32.Checksum(b[:16], castagnoli)), uint64(le.Uint32(b[16:]))}
		return ErrCorrupt
	}
	if !ok || (t.closedAt == r.pos && t.records == r.records) {
		return end
	}
	r.word, r.bad = t.closedAt, mismatch{"trailer", t.records, r.records}
	return ErrCorrupt
}

// Seq returns the sequence number of the last record handed out, on a
// channel whose envelope has EnvelopeSeq (else it counts records from the
// header's SeqBase), valid inside a handler or loop body; 0 on a channel
// without an envelope.
func (r *Reader) Seq() uint64 { return r.sealed.seq }

// Time returns when the last record handed out was written, in the
// header's tick unit since the Unix epoch, on a channel whose envelope has
// EnvelopeTime; else 0. Header().TickUnit.ToDuration converts it.
func (r *Reader) Time() uint64 { return r.sealed.time }

// MoveTo puts the reader at position pos, which must be the start of a
// record or the writer's current end, so reading resumes or replays from
// there: the Next of a record handed out resumes with the record after it.
// It returns an error wrapping ErrUnaligned for a position that is not a
// multiple of 8 or falls inside a record, and ErrUnavailable for one past
// what is written (or past a corrupt or truncated record). The reader is
// not moved on error.
func (r *Reader) MoveTo(pos uint64) error {
	if r.closed {
		return ErrReaderClosed
	}
	if pos%8 != 0 {
		return fmt.Errorf("%w: position %d is not a multiple of 8", ErrUnaligned, pos)
	}
	p, last, records := uint64(0), uint64(0), uint64(0) // last: the start of the record p ends
	if pos >= r.pos {
		p, records = r.pos, r.records
	}
	for p < pos {
		word, end, err := r.classifyGuarded(p, r.fileEnd)
		if err != nil {
			if err == ErrNothingYet { // not a read's end: only "not there yet"
				return fmt.Errorf("%w: position %d: the writer is at %d", ErrUnavailable, pos, p)
			}
			return fmt.Errorf("%w: position %d: the channel ends at %d: %w", ErrUnavailable, pos, p, err)
		}
		if word != HeartbeatLen {
			records++
		}
		last, p = p, end
	}
	if p != pos {
		return fmt.Errorf("%w: position %d is inside the record at %d", ErrUnaligned, pos, last)
	}
	r.pos, r.records = pos, records
	r.clock.moved()
	return nil
}

// WriterAlive asks the storage whether the channel's writer still holds it
// (for the mmap backend: whether its process holds the file lock). It
// returns ErrLivenessUnknown if the storage cannot tell.
func (r *Reader) WriterAlive() (bool, error) {
	if r.closed {
		return false, ErrReaderClosed
	}
	return r.watch.writerAlive()
}

// Position returns the position after the last record handed out: where
// the next read starts, and inside a handler or a loop body the Next of
// the record being handled.
func (r *Reader) Position() uint64 { return r.pos }

// Header returns the channel's header.
func (r *Reader) Header() Header { return r.hdr }

// Close closes the reader's storage. A second Close returns nil.
func (r *Reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	var err error
	if r.multi != nil && r.multi.fix != nil {
		err = r.multi.fix.Close()
	}
	return multierr.Combine(err, r.st.Close())
}
