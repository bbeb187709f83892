package domain

import (
	"encoding/binary"
	"fmt"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/kekbit-go/kekbit/internal/atomicx"
	"github.com/kekbit-go/kekbit/ports"
)

// region is one channel's data region as a writer or a reader reaches it:
// its bounds, and the way to its bytes, chosen once when the channel is
// opened. On an addressable storage (a mapped file, a memory region) the
// words and bytes are reached through the storage's memory views, with no
// interface call; on any other storage through its methods, payloads going
// through a scratch buffer. Writer, Reader and Resume all work through it,
// so each access is written once, with its fast and slow path side by side.
type region struct {
	st       ports.Storage
	mem      []byte           // the data region's bytes when the storage is addressable, else nil
	words    []uint64         // the same memory as words, for the length words
	scratch  []byte           // payload buffer when the storage is not addressable
	faults   ports.FaultProne // the storage, if its memory can vanish under the process
	capacity uint64           // bytes in the data region
	maxMsg   uint64           // the longest payload
	env      Envelope         // the fields at the start of every record's payload
	envLen   uint64           // their bytes
	seqBase  uint64           // the sequence number of record 0
	stamp    TickUnit         // the unit of the envelope's timestamps
	crcOn    bool             // the envelope has EnvelopeCRC
	seqW     uint64           // the word of a record holding its sequence number (0 for none; the length word is word 0)
	timeW    uint64           // the word of a record holding its timestamp (0 for none)
	voids    bool             // a multi-writer channel with an envelope: a record of the envelope only is a void record
	tears    bool             // the storage may read a word half written (ports.TornWords)
}

// newRegion sets up the region of channel h on st.
func newRegion(st ports.Storage, h Header) region {
	g := region{st: st, capacity: uint64(h.Capacity), maxMsg: uint64(h.MaxMsgLen),
		env: h.Envelope, envLen: h.Envelope.Len(), seqBase: h.SeqBase, stamp: h.TickUnit,
		crcOn: h.Envelope.Has(EnvelopeCRC), voids: h.MultiWriter && h.Envelope != 0}
	if h.Envelope.Has(EnvelopeSeq) {
		g.seqW = 1 + h.Envelope.seqAt()/8
	}
	if h.Envelope.Has(EnvelopeTime) {
		g.timeW = 1 + h.Envelope.timeAt()/8
	}
	if a, ok := st.(ports.Addressable); ok && littleEndian {
		// Views from the data region on, so that a position is an index.
		b, w := a.Bytes(), a.Words()
		g.mem, g.words = b[min(DataOffset, len(b)):], w[min(DataOffset/8, len(w)):]
		g.faults, _ = st.(ports.FaultProne)
	} else {
		g.scratch = make([]byte, g.maxMsg)
		t, ok := st.(ports.TornWords)
		g.tears = ok && t.TornWords()
	}
	return g
}

// load reads the word at position pos with acquire ordering. classify
// inlines it by hand: the compiler will not (cost 86 > 80).
func (g *region) load(pos uint64) (uint64, error) {
	if g.words != nil {
		return atomic.LoadUint64(&g.words[pos/8]), nil
	}
	return g.loadSlow(pos)
}

// loadSlow reads the word at position pos through the storage's method.
func (g *region) loadSlow(pos uint64) (uint64, error) {
	w, err := g.st.LoadUint64(int64(DataOffset + pos))
	if err != nil {
		return 0, fmt.Errorf("kekbit: loading the word at position %d: %w", pos, err)
	}
	return w, nil
}

// lengthSlow is loadSlow for a length word, which it reads again while it
// looks torn on a storage that tears words (settleTorn). It is classify's
// slow path, apart, so that classify's own code stays as small as its
// fast path needs.
func (g *region) lengthSlow(pos uint64) (uint64, error) {
	word, err := g.loadSlow(pos)
	if err == nil && g.tears && g.impossible(word) {
		return g.settleTorn(pos, word)
	}
	return word, err
}

// impossible reports whether word, where a length word stands, is none of
// what a writer stores there: a length up to the max, the watermark, the
// close mark.
func (g *region) impossible(word uint64) bool {
	return word > g.maxMsg && word != Watermark && word != CloseMark
}

// settleTorn reads again the word at pos, read as word, which would be
// ErrCorrupt, through a storage that may tear words (ports.TornWords: the
// file backend, by pread), which may have read a write of the word
// stopped half way, its first bytes new and the rest the watermark's, even
// twice in a row (the writer's process descheduled inside its pwrite). It
// reads it again with growing pauses, for up to about tornWait in all,
// until it reads a word that can be (a length, the watermark, the close
// mark), and returns that; else the last word it read.
func (g *region) settleTorn(pos, word uint64) (uint64, error) {
	for wait, spent := tornPause, time.Duration(0); spent < tornWait; wait, spent = 2*wait, spent+wait {
		time.Sleep(wait)
		again, err := g.loadSlow(pos)
		if err != nil || !g.impossible(again) {
			return again, err
		}
		word = again // still torn (its write stopped again) or damaged
	}
	return word, nil
}

// tornPause and tornWait bound settleTorn: first pause and total wait.
var tornPause, tornWait = 50 * time.Microsecond, 100 * time.Millisecond

// store writes the word v at position pos with release ordering.
func (g *region) store(pos, v uint64) error {
	if g.words != nil {
		atomicx.StoreRelease(&g.words[pos/8], v)
		return nil
	}
	if err := g.st.StoreUint64(int64(DataOffset+pos), v); err != nil {
		return fmt.Errorf("kekbit: storing the word at position %d: %w", pos, err)
	}
	return nil
}

// room returns where a payload of up to n bytes for the record at pos is
// encoded: the channel's memory itself, or the scratch buffer.
func (g *region) room(pos, n uint64) []byte {
	if g.mem == nil {
		return g.scratch[:n]
	}
	start := pos + RecordHeaderLen
	return g.mem[start : start+n : start+n]
}

// publish makes the record at pos, whose n-byte payload is in room(pos, ..),
// visible: it zeroes the padding, marks the word after the record as not
// written yet and only then stores the length word (release). It returns
// the position after the record.
func (g *region) publish(pos, n uint64) (uint64, error) {
	size := RecordSize(n)
	if g.words == nil {
		return g.publishSlow(pos, n, size)
	}
	g.publishWords(pos, n, size)
	return pos + size, nil
}

// publishWords is publish on the words of an addressable storage. Write
// has its own copy of these lines: at an inlining cost of 114 the compiler
// will not inline them, and the call costs a Write about 2ns.
func (g *region) publishWords(pos, n, size uint64) {
	if tail := n & 7; tail != 0 {
		// The padding is the high bytes of the payload's last
		// little-endian word.
		g.words[(pos+RecordHeaderLen+n)/8] &= 1<<(8*tail) - 1
	}
	// A plain store is enough for the watermark: no reader loads this word
	// before it has loaded the length word stored after it.
	g.words[(pos+size)/8] = Watermark
	atomicx.StoreRelease(&g.words[pos/8], n)
}

func (g *region) publishSlow(pos, n, size uint64) (uint64, error) {
	if n > 0 {
		body := g.scratch[:size-RecordHeaderLen]
		clear(body[n:])
		if _, err := g.st.WriteAt(body, int64(DataOffset+pos+RecordHeaderLen)); err != nil {
			return 0, fmt.Errorf("kekbit: writing the record at position %d: %w", pos, err)
		}
	}
	if err := g.store(pos+size, Watermark); err != nil {
		return 0, err
	}
	if err := g.store(pos, n); err != nil {
		return 0, err
	}
	return pos + size, nil
}

// payloadSlow returns a copy, in the scratch buffer, of the n-byte
// payload of the record at pos, for a storage that is not addressable (on
// one that is, the reader hands out a view of mem).
func (g *region) payloadSlow(pos, n uint64) ([]byte, error) {
	p := g.scratch[:n]
	if _, err := g.st.ReadAt(p, int64(DataOffset+pos+RecordHeaderLen)); err != nil {
		return nil, fmt.Errorf("kekbit: reading the record at position %d: %w", pos, err)
	}
	return p, nil
}

// sealed is what the envelope of a record says, once verify has checked it.
type sealed struct {
	seq, time uint64
}

// mismatch is what failed in a record's envelope: the check, what was
// expected and what was found.
type mismatch struct {
	check     string
	want, got uint64
}

// verify checks the envelope of the record of length word at pos, which
// ends at end and is record number index of the channel, and returns its
// payload after the envelope and what the envelope says. A record that
// fails returns ErrCorrupt and the mismatch.
func (g *region) verify(pos, word, end, index uint64) (payload []byte, s sealed, bad mismatch, err error) {
	if word < g.envLen || word == g.envLen && !g.voids {
		return nil, s, mismatch{"envelope", g.envLen + 1, word}, ErrCorrupt
	}
	var body []byte // the record after its length word, padding included
	if g.mem != nil {
		body = g.mem[pos+RecordHeaderLen : end : end]
	} else {
		body = g.scratch[:end-pos-RecordHeaderLen]
		if _, err := g.st.ReadAt(body, int64(DataOffset+pos+RecordHeaderLen)); err != nil {
			return nil, s, bad, fmt.Errorf("kekbit: reading the record at position %d: %w", pos, err)
		}
	}
	le := binary.LittleEndian
	if g.env.Has(EnvelopeCRC) {
		if want, got := recordCRC(word, body[4:]), le.Uint32(body); want != got {
			return nil, s, mismatch{"crc", uint64(want), uint64(got)}, ErrCorrupt
		}
	}
	if g.env.Has(EnvelopeSeq) {
		s.seq = le.Uint64(body[g.env.seqAt():])
		if want := g.seqBase + index; s.seq != want {
			return nil, s, mismatch{"seq", want, s.seq}, ErrCorrupt
		}
	} else {
		s.seq = g.seqBase + index
	}
	if g.env.Has(EnvelopeTime) {
		s.time = le.Uint64(body[g.env.timeAt():])
	}
	return body[g.envLen:word:word], s, bad, nil
}

// seal fills the envelope of the record of n bytes (envelope included) at
// pos, record number index of the channel, whose bytes are in rec (the
// record after its length word, up to the end of its padding, which must
// be zero already), stamped now.
func (g *region) seal(rec []byte, n, index, now uint64) {
	le := binary.LittleEndian
	if g.env.Has(EnvelopeSeq) {
		le.PutUint64(rec[g.env.seqAt():], g.seqBase+index)
	}
	if g.env.Has(EnvelopeTime) {
		le.PutUint64(rec[g.env.timeAt():], now)
	}
	if g.env.Has(EnvelopeCRC) {
		le.PutUint32(rec[4:], 0)
		le.PutUint32(rec, recordCRC(n, rec[4:]))
	}
}

// The kinds of word a position can hold, as classify tells them.
//
// classify returns for the word at pos the end of the record or heartbeat
// it starts and nil, or the sentinel saying why no record starts there:
//   - ErrChannelFull: no record fits at pos (pos+8 >= capacity);
//   - ErrTruncated: the word, or the record it starts, is not wholly in
//     the first fileEnd bytes of the data region;
//   - ErrNothingYet: the watermark, nothing written yet;
//   - ErrClosed: the close mark;
//   - ErrCorrupt: a length above the max record length, or a record that
//     would cross the capacity.
//
// It is the one place that reads a length word: the reader's reads,
// follows and moves and the writer's resume all step through a channel
// with it.
func (g *region) classify(pos, fileEnd uint64) (word, end uint64, err error) {
	if pos+RecordHeaderLen >= g.capacity {
		return 0, 0, ErrChannelFull
	}
	if pos+RecordHeaderLen > fileEnd {
		return 0, 0, ErrTruncated
	}
	if g.words != nil { // load, inlined by hand
		word = atomic.LoadUint64(&g.words[pos/8]) // acquire
	} else if word, err = g.lengthSlow(pos); err != nil {
		return 0, 0, err
	}
	switch {
	case word == Watermark:
		return word, 0, ErrNothingYet
	case word == CloseMark:
		return word, 0, ErrClosed
	case word > g.maxMsg:
		return word, 0, ErrCorrupt
	}
	end = pos + RecordSize(word)
	if end > g.capacity {
		return word, 0, ErrCorrupt
	}
	if end > fileEnd {
		return word, 0, ErrTruncated
	}
	return word, end, nil
}

// classifyGuarded is classify with a fault in the storage's memory turned
// into ErrTruncated, for the places outside a read loop that look at the
// channel.
func (g *region) classifyGuarded(pos, fileEnd uint64) (word, end uint64, err error) {
	if g.faults != nil {
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer catchFault(g.faults, &err)
	}
	return g.classify(pos, fileEnd)
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

var littleEndian = func() bool {
	var b [2]byte
	binary.NativeEndian.PutUint16(b[:], 1)
	return b[0] == 1
}()
