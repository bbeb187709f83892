package domain

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"go.uber.org/multierr"

	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/internal/atomicx"
	"github.com/kekbit-go/kekbit/internal/crc32c"
	"github.com/kekbit-go/kekbit/ports"
)

// Multi-writer channels (see FORMAT.md, "Multiple writers"). Any number of
// writers, each with a Writer of its own, append to one channel at once. A
// writer claims room by one compare-and-swap on the tail word, which packs
// the number of records claimed so far with the position of the next
// claim, so that one operation gives the claim both its position and its
// sequence number; it publishes its record by one release store of the
// length word (WriteBatch claims room for several records in one swap,
// and publishes them one by one). The data region is prefilled with the
// watermark at create, so a reader at a claim's start sees the watermark
// until its writer publishes, whatever the other writers do after it.
//
// Each writer holds a slot of the slot table, and the slot's lock for as
// long as it lives; the slot says which claim the writer has in progress.
// A claim whose writer died is turned into a void record (a record of its
// envelope only, which carries its sequence number and which readers skip)
// or, on a channel without an envelope, into heartbeats, by whoever waits
// on it past a bound: a reader, or a writer that joins and takes the dead
// writer's slot. A live writer's claim is never touched.

// FlagMultiWriter is bit 4 of the extension block's flags word: the
// channel takes records from many writers at once, and the header holds
// the tail word and the slot table.
const FlagMultiWriter uint32 = 1 << 4

// The mutable words of a multi-writer channel's header, each on a cache
// line of its own.
const (
	// TailOffset is the file offset of the tail word: the records claimed
	// so far in bits 32..59, the position of the next claim divided by 8
	// in bits 0..31, and bit 63 set once a writer closed the channel.
	TailOffset = 320
	// SlotsOffset is the file offset of the slot table.
	SlotsOffset = 384
	// SlotLen is the length of a slot: a cache line.
	SlotLen = 64
	// Slots is how many writers a multi-writer channel can have at once.
	Slots = 10
)

// The fields of the tail word and of a slot's claim and size words.
const (
	tailClosed  uint64 = 1 << 63
	tailPosMask uint64 = 1<<32 - 1
	countMask   uint64 = 1<<28 - 1

	claimIntent    uint64 = 1 << 62 // the writer's claim from this tail value (made, or about to be)
	claimMade      uint64 = 2 << 62 // the claim from this tail value is the writer's: its swap won (stored for claims of several records)
	claimStateMask uint64 = 3 << 62

	sizeUncounted uint64 = 1 << 63 // a claim of heartbeats: no record, no sequence number
	sizeBytesMask uint64 = 1<<32 - 1
	sizeRecShift         = 32 // bits 32..59 of the size word: the claim's records less one

	ownerSettling uint64 = 1 << 62 // the owner word of a slot a joining writer holds while it settles its dead writer's claim
)

// Errors of multi-writer channels.
var (
	// ErrNoSlot is returned by Join when every writer slot of the channel
	// is held by a live writer.
	ErrNoSlot = errors.New("kekbit: every writer slot of the multi-writer channel is held")
	// ErrChannelClosed is returned by a multi-writer channel's Write,
	// Claim and Heartbeat once one of its writers closed the channel. It
	// matches ErrWriterClosed.
	ErrChannelClosed = fmt.Errorf("%w: the multi-writer channel was closed by one of its writers", ErrWriterClosed)
	// ErrNotMultiWriter is returned by Join for a channel made for one
	// writer.
	ErrNotMultiWriter = errors.New("kekbit: the channel is not a multi-writer channel")
	// ErrMultiWriter is returned by Resume for a multi-writer channel:
	// Join it instead.
	ErrMultiWriter = errors.New("kekbit: the channel is a multi-writer channel: join it")
	// ErrNeedsMemory is returned for a multi-writer channel on a storage
	// whose bytes are not addressable (its writers share memory: mmap,
	// memory).
	ErrNeedsMemory = errors.New("kekbit: a multi-writer channel needs a storage with addressable memory (mmap, memory)")
)

// multiFlag returns FlagMultiWriter for a multi-writer channel's header.
func (h Header) multiFlag() uint32 {
	if h.MultiWriter {
		return FlagMultiWriter
	}
	return 0
}

// slotWord returns the index, among the header's words, of word k of slot
// i: 0 the owner (the writer's id), 1 the claim word, 2 the claim's size.
func slotWord(i, k int) int { return (SlotsOffset+SlotLen*i)/8 + k }

// SlotLockOffset returns the file offset of the byte whose lock slot i's
// writer holds (the slot's first byte).
func SlotLockOffset(i int) int64 { return int64(SlotsOffset + SlotLen*i) }

// multiWriter is a writer's state on a multi-writer channel.
type multiWriter struct {
	hw     []uint64 // the storage's words from offset 0 (header, then the data region)
	tail   *uint64
	slot   int
	sw     []uint64 // this writer's slot: owner, claim word, size
	locks  ports.SlotLocker
	count  uint64   // the open claim's record number
	size   uint64   // the open claim's bytes
	sized  uint64   // the size word this writer stored last in its slot (0: none)
	buf    []byte   // Write's and WriteBatch's encoding buffer
	srcs   [][]byte // WriteBatch's payloads of one run
	ended  bool     // the channel was closed (by another writer, or full)
	joined bool
}

// initMulti sets up w, on a multi-writer channel, with the storage's
// views. The caller then takes a slot.
func (w *Writer[T]) initMulti() error {
	a, ok := w.st.(ports.Addressable)
	if !ok || w.words == nil {
		return ErrNeedsMemory
	}
	l, ok := w.st.(ports.SlotLocker)
	if !ok {
		return fmt.Errorf("kekbit: a multi-writer channel needs a storage with slot locks: %T has none", w.st)
	}
	hw := a.Words()
	w.multi = &multiWriter{hw: hw, tail: &hw[TailOffset/8], locks: l, slot: -1}
	w.marks, w.progress = false, nil // many writers: no progress mark (it stays 0)
	w.blocked = true                 // the single writer's Write and Heartbeat are never its
	w.guarded = true                 // Write and Heartbeat take their slow entry, to the multi-writer path
	return nil
}

// prefill writes the watermark over the whole data region and the
// footer, before the channel is visible.
func (w *Writer[T]) prefill() {
	ws := w.multi.hw[DataOffset/8:]
	for i := range ws {
		ws[i] = Watermark
	}
}

// takeSlot takes the first slot whose lock is free, repairing the claim
// its last writer left, if any; first is where it starts looking.
func (w *Writer[T]) takeSlot(first int) error {
	m := w.multi
	var errs error
	for k := range Slots {
		i := (first + k) % Slots
		if err := m.locks.LockSlot(i); err != nil {
			if !errors.Is(err, ports.ErrWriterAlive) {
				errs = multierr.Append(errs, err)
			}
			continue
		}
		// Settling: the claim in the slot is still the dead writer's, which
		// others (a joiner settling another slot that holds the same claim,
		// a reader) may repair though the slot's lock is held.
		atomic.StoreUint64(&m.hw[slotWord(i, 0)], ownerSettling)
		if w.settle(i) {
			m.slot, m.sw = i, m.hw[slotWord(i, 0):slotWord(i, 3)]
			atomicx.StoreRelease(&m.sw[0], w.hdr.WriterID|1<<63)
			return nil
		}
		atomic.StoreUint64(&m.hw[slotWord(i, 0)], 0)
		m.locks.UnlockSlot(i)
	}
	if errs != nil {
		return errs
	}
	return ErrNoSlot
}

// settle makes slot i, whose lock this writer just took, free of the
// claim its dead writer left: it repairs it if it was never published,
// waiting a little while a live writer may own the same claim. It
// reports whether the slot is free now.
func (w *Writer[T]) settle(i int) bool {
	hw := w.multi.hw
	for try := 0; try < 100; try++ {
		cw := atomic.LoadUint64(&hw[slotWord(i, 1)])
		if cw&claimStateMask == 0 {
			return true
		}
		c, state := findDead(&w.region, hw, w.multi.locks, claimPos(cw), i)
		switch state {
		case claimGone:
			atomic.CompareAndSwapUint64(&hw[slotWord(i, 1)], cw, 0)
		case claimDead:
			w.region.voidClaim(c)
			clearSlots(hw, c)
		case claimLive:
			time.Sleep(time.Millisecond)
		}
	}
	return false
}

// claimPos returns the position of the claim of claim word cw.
func claimPos(cw uint64) uint64 { return (cw & tailPosMask) * 8 }

// deadClaim is a claim whose writer died, as the slot table tells it, or
// the part of it still unpublished: size bytes from pos, for records
// records (at least 1) numbered from count.
type deadClaim struct {
	pos, size, count uint64
	records          uint64
	counted          bool     // a record's (a void takes its sequence number), else heartbeats
	words            []uint64 // claim words to clear afterwards, one per slot holding the claim
	slots            []int
}

// What findDead found about the claim at a position.
const (
	claimNone = iota // no slot holds a claim there
	claimLive        // a live writer may own it: wait
	claimGone        // the claim was published, repaired or never made
	claimDead        // every slot holding it is dead and it is not published: repair it
)

// findDead looks in the slot table hw for the claim that starts at pos,
// or the claim of several records whose swap won (claimMade) that holds
// pos, and tells whether its writer is dead; the claim it returns is the
// part of it still unpublished. self is a slot whose lock the caller
// holds (a joining writer's, pos its claim's start), whose claim is its
// dead writer's; -1 for none (a reader's, waiting at pos). A claim is held
// by every slot whose claim word was made from the tail value that gave
// its start: the one writer whose swap won, and any that lost it and died
// before claiming again; the slot that says the claim was made wins, else
// the first that meant to.
func findDead(g *region, hw []uint64, locks ports.SlotLocker, pos uint64, self int) (deadClaim, int) {
	var c deadClaim
	if pos+RecordHeaderLen > g.capacity {
		return c, claimGone
	}
	if atomic.LoadUint64(&g.words[pos/8]) != Watermark &&
		(self < 0 || atomic.LoadUint64(&hw[slotWord(self, 1)])&claimStateMask != claimMade) {
		// Published, or repaired already (a live writer's slot keeps its
		// last claim until its next one); but a joiner's dead writer may
		// have published the first records of a claim of several.
		return c, claimGone
	}
	// The tail before the slots: a writer stores its claim word before
	// its swap, so a swap from t seen here has its winner's word in the
	// table below. Loaded after the scan instead, it could be the swap of
	// a live writer whose slot was read while still idle, and that
	// writer's claim taken for a dead one's.
	tail := atomic.LoadUint64(&hw[TailOffset/8]) &^ tailClosed
	var t uint64
	best := -1
	for i := range Slots {
		cw := atomic.LoadUint64(&hw[slotWord(i, 1)])
		if cw&claimStateMask == 0 {
			continue
		}
		if start := claimPos(cw); start != pos {
			// A claim of several records holds positions past its start,
			// once its writer knows its swap won: no lost swap's slot can
			// say so of a claim that is not its own.
			size := atomic.LoadUint64(&hw[slotWord(i, 2)])
			if cw&claimStateMask != claimMade || start > pos || pos >= start+size&sizeBytesMask {
				continue
			}
		}
		if i != self {
			held, err := locks.SlotHeld(i)
			if err != nil || held && atomic.LoadUint64(&hw[slotWord(i, 0)]) != ownerSettling {
				return c, claimLive
			}
			// The writer stores its slot idle before it lets the lock go,
			// and a joiner its own slot idle before it stops settling it:
			// a claim word unchanged after the lock was seen free, or the
			// slot settling, is a dead writer's.
			if atomic.LoadUint64(&hw[slotWord(i, 1)]) != cw {
				return c, claimLive
			}
		}
		size := atomic.LoadUint64(&hw[slotWord(i, 2)])
		if best < 0 || (cw&claimStateMask == claimMade && atomic.LoadUint64(&hw[slotWord(best, 1)])&claimStateMask != claimMade) {
			best = i
			t = cw &^ claimStateMask
			c.size, c.counted = size&sizeBytesMask, size&sizeUncounted == 0
			c.records = (size>>sizeRecShift)&countMask + 1
		}
		c.words = append(c.words, cw)
		c.slots = append(c.slots, i)
	}
	if best < 0 {
		return c, claimNone
	}
	start := claimPos(t)
	c.pos, c.count = start, (t>>32)&countMask
	if tail == t {
		return c, claimGone // the swap from t had not happened when the scan began
	}
	end := start + c.size
	claimed := (atomic.LoadUint64(&hw[TailOffset/8]) & tailPosMask) * 8 // a claim that was made ends at or before the tail
	if c.size < RecordHeaderLen || c.size%8 != 0 || end > claimed || end > g.capacity || end > uint64(len(g.words))*8 ||
		c.records > batchRecords || c.counted && c.size < c.records*(RecordHeaderLen+g.envLen+8) {
		return c, claimGone // not a claim this package makes (a damaged slot): leave it
	}
	// Its writer publishes its records in order: the part still to
	// publish starts at the first watermark.
	q, j := start, uint64(0)
	for ; q < end; j++ {
		if j == c.records {
			return c, claimGone // published whole (its last word may be the end's watermark)
		}
		word := atomic.LoadUint64(&g.words[q/8])
		if word == Watermark {
			break
		}
		if word > g.maxMsg {
			return c, claimGone // not what its writer stores: leave it
		}
		q += RecordSize(word)
	}
	if q >= end || self < 0 && q != pos {
		// Published meanwhile (or repaired); a reader waits where it
		// stands, and repairs there once it has read what came before.
		return c, claimGone
	}
	if c.counted && g.envLen != 0 && (c.records-j)*(RecordHeaderLen+g.envLen) > end-q {
		return c, claimGone // no room for its void records: not what its writer left
	}
	c.pos, c.size, c.count, c.records = q, end-q, c.count+j, c.records-j
	return c, claimDead
}

// clearSlots marks the slots that held claim c idle, unless their
// writer moved on meanwhile.
func clearSlots(hw []uint64, c deadClaim) {
	for k, i := range c.slots {
		atomic.CompareAndSwapUint64(&hw[slotWord(i, 1)], c.words[k], 0)
	}
}

// voidClaim turns the claim c, which nobody will publish, into what the
// format says: on a channel with an envelope a claim of records becomes
// void records (their envelope only: their sequence numbers, time 0, CRC),
// one after the other, the last followed by heartbeats to the claim's
// end; any other into heartbeats. Every word is stored from the claim's
// end back to its start, the length word at its start last (release), so
// a reader waiting there sees the watermark until the rest is in place.
// Its stores are the same whoever makes them, so two repairs of one claim
// do no harm.
func (g *region) voidClaim(c deadClaim) {
	ws := g.words[c.pos/8 : (c.pos+c.size)/8]
	void := c.counted && g.envLen != 0
	voids, vw := 1, 1 // void records, and the words of each (a heartbeat's: 1)
	if void {
		voids, vw = int(max(c.records, 1)), 1+int(g.envLen/8)
	}
	for i := len(ws) - 1; i >= voids*vw; i-- { // past them: zeros (heartbeats)
		word := uint64(0)
		if i == len(ws)-1 && c.pos+c.size == g.capacity {
			word = Watermark // the end keeps its watermark, as the end of a claim that did not fit
		}
		atomic.StoreUint64(&ws[i], word)
	}
	if !void {
		atomicx.StoreRelease(&ws[0], HeartbeatLen)
		return
	}
	for k := voids - 1; k >= 0; k-- {
		v := ws[k*vw : k*vw+vw]
		if g.seqW != 0 {
			atomic.StoreUint64(&v[g.seqW], g.seqBase+c.count+uint64(k))
		}
		if g.timeW != 0 {
			atomic.StoreUint64(&v[g.timeW], 0)
		}
		if g.crcOn {
			atomic.StoreUint64(&v[1], uint64(crc32c.Record(g.envLen, 0, v[2:vw])))
		}
		atomicx.StoreRelease(&v[0], g.envLen)
	}
}

// reserve claims size bytes at the tail for this writer, a record's
// (counted: it takes a sequence number) or heartbeats, and returns its
// position and record number. The claim that does not fit any more turns
// the rest of the region into heartbeats and ends the channel for every
// writer (ErrChannelFull).
func (w *Writer[T]) reserve(size uint64, counted bool) (pos, count uint64, err error) {
	m := w.multi
	for {
		t := atomic.LoadUint64(m.tail)
		if t&tailClosed != 0 {
			m.ended = true
			m.idle() // a swap of this call may have lost: its claim word must not stay
			return 0, 0, ErrChannelClosed
		}
		pos = (t & tailPosMask) * 8
		if pos+RecordHeaderLen >= w.capacity {
			m.idle()
			return 0, 0, ErrChannelFull
		}
		if pos+size > w.capacity {
			// The rest of the region becomes heartbeats, but for its last
			// word, which stays the watermark: a reader of an enveloped
			// channel that reaches the capacity through zeros with a zero
			// word there found a lost tail.
			rest := w.capacity - RecordHeaderLen - pos
			if !m.swap(t, t&^tailPosMask|w.capacity/8, rest|sizeUncounted) {
				continue
			}
			w.voidClaim(deadClaim{pos: pos, size: rest})
			return 0, 0, ErrChannelFull
		}
		next, flag := t+size/8, sizeUncounted
		if counted {
			next, flag = next+1<<32, 0
		}
		if m.swap(t, next, size|flag) {
			return pos, (t >> 32) & countMask, nil
		}
	}
}

// swap claims from tail value t, moving the tail to next, with the
// claim's size word: the slot says so before the swap, so that a repairer
// finds a claim whose writer died right after it. The slot keeps saying
// so after the claim is published (a repairer then finds no watermark at
// its position) until the writer's next claim.
func (m *multiWriter) swap(t, next, size uint64) bool {
	if size != m.sized { // the size word is this writer's alone: store it when it changes
		atomicx.StoreBeforeRMW(&m.sw[2], size)
		m.sized = size
	}
	atomicx.StoreBeforeRMW(&m.sw[1], claimIntent|t)
	return atomic.CompareAndSwapUint64(m.tail, t, next)
}

// idle stores the slot's claim word 0: the writer has no claim. A
// writer whose swap lost and that then claims nothing must not leave the
// lost swap's tail value there, or a repairer of the claim that won would
// wait on this live writer for ever.
func (m *multiWriter) idle() { atomicx.StoreRelease(&m.sw[1], 0) }

// claimMulti is Claim on a multi-writer channel.
func (w *Writer[T]) claimMulti(n int) ([]byte, error) {
	m := w.multi
	switch {
	case m.ended:
		return nil, ErrChannelClosed
	case n < 1:
		return nil, ErrEmptyPayload
	case uint64(n) > w.maxPayload:
		return nil, w.claimTooLarge(n)
	}
	size := RecordSize(w.envLen + uint64(n))
	pos, count, err := w.reserve(size, true)
	if err != nil {
		return nil, err
	}
	w.pos, m.count, m.size, w.claimed = pos, count, size, uint64(n)
	return w.claimRoom()[w.envLen : w.envLen+uint64(n)], nil
}

// commitMulti is commit on a multi-writer channel: the rest of the claim
// becomes heartbeats, the envelope is filled with the claim's sequence
// number, and one release store of the length word publishes the record.
func (w *Writer[T]) commitMulti(n int) (int, error) {
	pos, total := w.pos, w.envLen+uint64(n)
	if w.envLen == 0 && total+RecordHeaderLen == w.multi.size {
		return w.commitWhole(), nil
	}
	rec := w.mem[pos+RecordHeaderLen : pos+w.multi.size]
	clear(rec[total:]) // padding, and heartbeats for what was claimed and not committed
	if pos+w.multi.size == w.capacity && RecordSize(total) < w.multi.size {
		// The claim ends at the capacity: its last word, past the record,
		// keeps the watermark, as the end of a claim that did not fit.
		w.words[w.capacity/8-1] = Watermark
	}
	if w.envLen != 0 {
		w.sealMulti(rec, total)
	}
	atomicx.StoreRelease(&w.words[pos/8], total)
	w.claimed = 0
	w.records++
	return int(RecordSize(total)), nil
}

// commitWhole is commitMulti's common case: the whole claim, a whole
// number of words, no envelope, so no padding to clear, and the record
// ends where the claim does. It returns the bytes the record takes.
func (w *Writer[T]) commitWhole() int {
	atomicx.StoreRelease(&w.words[w.pos/8], w.multi.size-RecordHeaderLen)
	w.claimed = 0
	w.records++
	return int(w.multi.size)
}

// sealMulti fills the envelope of the claim's record of total bytes, rec
// after its length word, with the claim's sequence number (apart from
// commitMulti, whose plain case then keeps no frame for its call).
func (w *Writer[T]) sealMulti(rec []byte, total uint64) {
	var now uint64
	if w.timeW != 0 {
		now = w.stampNow()
	}
	w.seal(rec[:RecordSize(total)-RecordHeaderLen], total, w.multi.count, now)
}

// abortMulti gives the open claim up on a multi-writer channel: it
// becomes a void record (or heartbeats) at once, so that readers move on.
func (w *Writer[T]) abortMulti() error {
	m := w.multi
	w.claimed = 0
	return w.guard(func() { w.voidClaim(deadClaim{pos: w.pos, size: m.size, count: m.count, records: 1, counted: true}) })
}

// blockedWrite is Write on a multi-writer channel.
func (w *Writer[T]) blockedWrite(v T) (int, error) {
	if w.multi == nil || w.closed || w.claimed != 0 {
		return 0, w.unusable()
	}
	src, ok := any(v).([]byte)
	if !w.verbatim || !ok || len(src) == 0 {
		var err error
		if src, err = w.encodeInto(v, 0); err != nil {
			return 0, err
		}
	}
	// writeOne, by hand: the call (it does not inline) costs a Write 9
	// instructions.
	p, err := w.Claim(len(src)) // its fast path (which refuses a payload above the max), else claimMulti
	if err != nil {
		return 0, err
	}
	copy(p, src)
	return w.commitMulti(len(src))
}

// writeOne writes the payload src as one record of a multi-writer
// channel, by a claim of its own.
func (w *Writer[T]) writeOne(src []byte) (int, error) {
	p, err := w.Claim(len(src)) // its fast path, else claimMulti
	if err != nil {
		return 0, err
	}
	copy(p, src)
	return w.commitMulti(len(src))
}

// buffer returns the encoding buffer's maxPayload bytes from off, making
// it, or a larger one (at least twice as large: a batch's encodings take
// it up to batchBytes past the first), on first need. Payloads already in
// a buffer it replaces stay where they are.
func (m *multiWriter) buffer(maxPayload, off uint64) []byte {
	if need := off + maxPayload; uint64(len(m.buf)) < need {
		m.buf = make([]byte, max(need, 2*uint64(len(m.buf))))
	}
	return m.buf[off : off+maxPayload]
}

// encodeInto returns v's payload: a verbatim []byte itself, else its
// encoding into the encoding buffer from off. A payload that is empty or
// above the max payload is an error, as Write's.
func (w *Writer[T]) encodeInto(v T, off uint64) ([]byte, error) {
	if b, ok := any(v).([]byte); w.verbatim && ok {
		switch {
		case len(b) == 0:
			return nil, ErrEmptyPayload
		case uint64(len(b)) > w.maxPayload:
			return nil, w.claimTooLarge(len(b))
		}
		return b, nil
	}
	buf := w.multi.buffer(w.maxPayload, off)
	n, err := w.enc.Encode(buf, v)
	if err != nil || n <= 0 || n > len(buf) {
		return nil, w.refuse(v, buf, n, err, w.maxPayload, w.maxPayload+RecordHeaderLen)
	}
	return buf[:n], nil
}

// Batches of a multi-writer channel's WriteBatch: one claim holds at most
// batchRecords records and, unless it holds one only, batchBytes bytes.
const (
	batchRecords = 64
	batchBytes   = 16 << 10
)

// batchMulti is WriteBatch on a multi-writer channel: each run of up to
// batchRecords values (and batchBytes of claim) is encoded first, claimed
// by one swap (record count and bytes at once, the slot's size word saying
// how many records), its swap marked won in the slot (claimMade), then
// its records filled, sealed and published one by one, in order. A run
// that does not fit the room left goes record by record, as Write would,
// so that the channel ends full where Write would have ended it.
func (w *Writer[T]) batchMulti(vs []T) (int, error) {
	if w.multi == nil || w.closed || w.claimed != 0 {
		return 0, w.unusable()
	}
	m := w.multi
	done := 0
	for done < len(vs) {
		srcs, size, used := m.srcs[:0], uint64(0), uint64(0)
		var stop error // the error of the value after the run, if any
		for _, v := range vs[done:min(len(vs), done+batchRecords)] {
			src, err := w.encodeInto(v, used)
			if err != nil {
				stop = err
				break
			}
			rs := RecordSize(w.envLen + uint64(len(src)))
			if len(srcs) > 0 && size+rs > batchBytes {
				break // v goes in the next run; its encoding, if any, is made again there
			}
			if len(m.buf) > int(used) && &src[0] == &m.buf[used] { // encoded, not v's own bytes
				used += uint64(len(src))
			}
			srcs, size = append(srcs, src), size+rs
		}
		m.srcs = srcs[:0]
		if len(srcs) > 0 {
			n, err := w.writeRun(srcs, size)
			if done += n; err != nil {
				return done, err
			}
		}
		if stop != nil {
			return done, stop
		}
	}
	return done, nil
}

// writeRun writes the payloads srcs, whose records take size bytes, by
// one claim if they fit, else one by one; it returns how many went in.
func (w *Writer[T]) writeRun(srcs [][]byte, size uint64) (int, error) {
	switch len(srcs) {
	case 0:
		return 0, nil
	case 1:
		if _, err := w.writeOne(srcs[0]); err != nil {
			return 0, err
		}
		return 1, nil
	}
	m := w.multi
	k := uint64(len(srcs))
	for {
		t := atomic.LoadUint64(m.tail)
		if t&tailClosed != 0 {
			m.ended = true
			m.idle()
			return 0, ErrChannelClosed
		}
		pos := (t & tailPosMask) * 8
		if pos+size > w.capacity {
			m.idle()
			for i, src := range srcs {
				if _, err := w.writeOne(src); err != nil {
					return i, err
				}
			}
			return len(srcs), nil
		}
		if !m.swap(t, t+size/8+k<<32, size|(k-1)<<sizeRecShift) {
			continue
		}
		// The claim is this writer's: from here on a repairer may take a
		// position inside it for one of its records (see findDead).
		atomic.StoreUint64(&m.sw[1], claimMade|t)
		count := (t >> 32) & countMask
		for i, src := range srcs {
			rs := RecordSize(w.envLen + uint64(len(src)))
			copy(w.mem[pos+RecordHeaderLen+w.envLen:], src)
			w.pos, m.count, m.size = pos, count+uint64(i), rs
			w.commitMulti(len(src))
			pos += rs
		}
		// Published whole: state 1 again, as after a claim of one record,
		// so that the size word of this writer's next claim, stored before
		// its claim word, never pairs with a state-2 word of this claim.
		atomic.StoreUint64(&m.sw[1], claimIntent|t)
		return len(srcs), nil
	}
}

// blockedHeartbeat is Heartbeat on a multi-writer channel.
func (w *Writer[T]) blockedHeartbeat() (int, error) {
	if w.multi == nil || w.closed || w.claimed != 0 {
		return 0, w.unusable()
	}
	if w.multi.ended {
		return 0, ErrChannelClosed
	}
	pos, _, err := w.reserve(HeartbeatLen+RecordHeaderLen, false)
	if err != nil {
		return 0, err
	}
	atomicx.StoreRelease(&w.words[pos/8], HeartbeatLen)
	return RecordHeaderLen, nil
}

// leaveMulti ends this writer's part in a multi-writer channel: it aborts
// an open claim, and with end closes the channel for every writer (the
// close trailer of an enveloped channel, then the close mark at the
// tail); then it lets its slot go and closes the storage.
func (w *Writer[T]) leaveMulti(end bool) error {
	m := w.multi
	var errs error
	if w.claimed != 0 {
		errs = w.abortMulti()
	}
	m.sized = 0
	w.closed, w.blocked = true, true
	w.stopClock()
	if end {
		var err error
		errs = multierr.Append(errs, w.guard(func() { err = w.endChannel() }))
		errs = multierr.Append(errs, err)
	}
	m.idle()
	atomicx.StoreRelease(&m.sw[0], 0)
	errs = multierr.Append(errs, m.locks.UnlockSlot(m.slot))
	return multierr.Combine(errs, w.st.Flush(), w.st.Close())
}

// endChannel sets the tail's closed bit, so that no writer claims any
// more, and stores the close trailer and the close mark where the next
// claim would have gone. On a channel another writer closed it stores
// them too if the close mark is not there yet: that writer may have died
// after its swap, and the bytes are the same whoever stores them. A tail
// past the capacity (a damaged file) is a *HeaderError.
func (w *Writer[T]) endChannel() error {
	m := w.multi
	var t uint64
	for {
		t = atomic.LoadUint64(m.tail)
		if t&tailClosed != 0 || atomic.CompareAndSwapUint64(m.tail, t, t|tailClosed) {
			break
		}
	}
	pos, count := (t&tailPosMask)*8, (t>>32)&countMask
	if pos > w.capacity || pos/8 >= uint64(len(w.words)) {
		return &HeaderError{Field: "multi_writer_tail", Want: fmt.Sprintf("a position of at most the capacity, %d", w.capacity), Got: pos}
	}
	if t&tailClosed != 0 && atomic.LoadUint64(&w.words[pos/8]) == CloseMark {
		return nil // closed by another writer, who finished
	}
	if w.envLen != 0 {
		var b [TrailerLen]byte
		putTrailer(b[:], trailer{closedAt: pos, records: count})
		if _, err := w.st.WriteAt(b[:], TrailerOffset); err != nil {
			return fmt.Errorf("kekbit: writing the close trailer: %w", err)
		}
	}
	atomicx.StoreRelease(&w.words[pos/8], CloseMark)
	return nil
}

// Join returns a new writer of the multi-writer channel channelID of
// vol, beside those already writing it: it opens the channel for writing
// (ports.Joiner) and takes a free writer slot. See JoinStorage.
func Join[T any](vol ports.Volume, channelID uint64, enc codecs.Encoder[T], opts ...WriterOption) (*Writer[T], error) {
	j, ok := vol.(ports.Joiner)
	if !ok {
		return nil, fmt.Errorf("kekbit: join channel %#x: %T cannot open a channel for one more writer", channelID, vol)
	}
	st, err := j.OpenToJoin(channelID)
	if err != nil {
		return nil, err
	}
	w, err := JoinStorage(st, enc, opts...)
	if err != nil {
		st.Close()
		return nil, err
	}
	if w.hdr.ChannelID != channelID {
		w.Release()
		return nil, &HeaderError{Field: "channel_id", Want: fmt.Sprintf("%d (%#x), the id it was opened by", channelID, channelID), Got: w.hdr.ChannelID}
	}
	return w, nil
}

// JoinStorage returns a writer of the multi-writer channel in st, a
// storage opened read-write that holds no slot yet, beside the writers
// already at work. It takes the first writer slot whose lock is free,
// first turning the claim that slot's dead writer left, if any, into a
// void record. Errors: a *HeaderError, ErrNotMultiWriter, ErrNeedsMemory,
// ErrNoSlot (every slot is held by a live writer), ErrChannelClosed.
//
// The writer is used by one goroutine at a time: each goroutine that
// writes takes a writer of its own (one slot each).
func JoinStorage[T any](st ports.Storage, enc codecs.Encoder[T], opts ...WriterOption) (*Writer[T], error) {
	if ro, ok := st.(interface{ Writable() bool }); ok && !ro.Writable() {
		return nil, ErrReadOnlyStorage
	}
	h, err := readHeader(st)
	if err != nil {
		return nil, err
	}
	if !h.MultiWriter {
		return nil, ErrNotMultiWriter
	}
	w, err := attach(st, h, enc, opts)
	if err != nil {
		return nil, err
	}
	if err := w.initMulti(); err != nil {
		return nil, err
	}
	if atomic.LoadUint64(w.multi.tail)&tailClosed != 0 {
		return nil, ErrChannelClosed
	}
	if err := w.takeSlot(int(time.Now().UnixNano() % Slots)); err != nil {
		return nil, err
	}
	w.multi.joined = true
	return w, nil
}

// multiTail returns the tail's position and records, for a multi-writer
// writer's WriteOffset, Available and Records.
func (w *Writer[T]) multiTail() (pos, records uint64) {
	t := atomic.LoadUint64(w.multi.tail)
	return min((t&tailPosMask)*8, w.capacity), (t >> 32) & countMask
}

// Slot returns the writer slot a multi-writer channel's writer holds, or
// -1 for a single writer.
func (w *Writer[T]) Slot() int {
	if w.multi == nil {
		return -1
	}
	return w.multi.slot
}
