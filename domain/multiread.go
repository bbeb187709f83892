package domain

import (
	"sync/atomic"
	"time"

	"github.com/kekbit-go/kekbit/ports"
)

// WithClaimBound sets how long a reader of a multi-writer channel waits
// at a claimed position before it asks the slot table whether the
// claim's writer is dead (and if so repairs the claim). The default is
// half the header's timeout, at least a millisecond, so that a dead
// writer's claim is repaired before the reader would time out.
func WithClaimBound(d time.Duration) ReaderOption {
	return func(r *Reader) { r.multiBound = d }
}

// probeEvery is how often at most a reader stuck at a claim probes the
// slot table.
const probeEvery = time.Millisecond

// readerMulti is what a reader of a multi-writer channel keeps to get
// past the claims of writers that died.
type readerMulti struct {
	st      ports.Storage
	hw      []uint64 // the storage's words from offset 0
	locks   ports.SlotLocker
	bound   time.Duration
	at      uint64    // the claimed position the reader waits at
	since   time.Time // since when
	waiting bool
	probed  time.Time // the last probe of the slot table

	fix   ports.Storage // a writable view for repairs, opened on first need
	fixG  *region
	fixHW []uint64
	noFix bool // none can be had: skip dead claims in this reader only
}

// newReaderMulti sets up the dead-claim watch of a reader of the
// multi-writer channel h on st; nil if st cannot tell (its memory is not
// addressable, or it has no slot locks): the reader then waits as on any
// channel.
func newReaderMulti(st ports.Storage, h Header, bound time.Duration) *readerMulti {
	a, ok := st.(ports.Addressable)
	l, lok := st.(ports.SlotLocker)
	if !ok || !lok || !littleEndian || len(a.Words()) < DataOffset/8 {
		return nil
	}
	if bound <= 0 {
		bound = max(h.TimeoutDuration()/2, time.Millisecond)
	}
	return &readerMulti{st: st, hw: a.Words(), locks: l, bound: bound}
}

// unstick is called when the reader finds the watermark at pos. If a
// writer claimed pos and has sat on it past the bound, and the slot table
// says that the writer is dead, it repairs the claim (a void record or
// heartbeats, through a writable view of the channel) or, if it cannot
// write, moves the reader past it; it reports whether the reader should
// look again.
func (r *Reader) unstick(pos uint64) bool {
	m := r.multi
	if !m.claimedPast(pos) {
		m.waiting = false
		return false // nothing claimed here: the reader is at the end
	}
	now := r.clock.now()
	if !m.waiting || m.at != pos {
		m.waiting, m.at, m.since = true, pos, now
		return false
	}
	if now.Sub(m.since) < m.bound || now.Sub(m.probed) < probeEvery {
		return false
	}
	m.probed = now
	c, state := findDead(&r.region, m.hw, m.locks, pos, -1)
	if state != claimDead {
		return false
	}
	m.waiting = false
	if g, hw := m.repairer(r.hdr); g != nil {
		g.voidClaim(c)
		clearSlots(hw, c)
		return true
	}
	r.pos = c.pos + c.size
	if c.counted && r.envLen != 0 {
		r.records += c.records
	}
	return true
}

// claimedPast reports whether writers claimed room at or after pos.
func (m *readerMulti) claimedPast(pos uint64) bool {
	return (atomic.LoadUint64(&m.hw[TailOffset/8])&tailPosMask)*8 > pos
}

// repairer returns the writable view repairs go through, opening it on
// first need; nil if the storage offers none.
func (m *readerMulti) repairer(h Header) (*region, []uint64) {
	if m.fixG != nil || m.noFix {
		return m.fixG, m.fixHW
	}
	rp, ok := m.st.(ports.Repairer)
	if !ok {
		m.noFix = true
		return nil, nil
	}
	st, err := rp.OpenRepair()
	if err != nil {
		m.noFix = true
		return nil, nil
	}
	a, ok := st.(ports.Addressable)
	if !ok || st.Size() < h.FileSize() {
		st.Close()
		m.noFix = true
		return nil, nil
	}
	g := newRegion(st, h)
	m.fix, m.fixG, m.fixHW = st, &g, a.Words()
	return m.fixG, m.fixHW
}
