package domain

import (
	"sync"
	"sync/atomic"
	"time"
)

// MinCoarseResolution is the finest resolution WithCoarseClock accepts: a
// clock goroutine waking more often than this costs the process more CPU
// than the reads of time.Now it saves.
const MinCoarseResolution = 100 * time.Microsecond

// WithCoarseClock makes the writer stamp the records of a channel whose
// envelope has EnvelopeTime from a coarse clock instead of reading the
// system clock per record: a goroutine shared by every writer of the
// process with the same resolution advances it every resolution (at least
// MinCoarseResolution), so stamping costs a load instead of a call to
// time.Now (tens of nanoseconds where the system clock is slow to read, as
// in many virtual machines).
//
// A coarse stamp is the wall clock (time.Now) as the goroutine last read
// it: at most about one resolution (plus scheduling delay) behind the time
// the record was written, never ahead of it, and never going backwards
// (after a step of the system's clock back, stamps hold until it has
// caught up).
// The goroutine starts with the first stamped record and stops when the
// last writer using it is closed or released. WithWriteClock, if given
// too, wins.
func WithCoarseClock(resolution time.Duration) WriterOption {
	return func(o *options) { o.coarse = max(resolution, MinCoarseResolution) }
}

// coarseClock is the clock of WithCoarseClock: the Unix nanoseconds at
// its last tick.
type coarseClock struct {
	nanos atomic.Int64
	// ticks holds the clock in each tick unit, ticks[u/3] for unit u
	// (Secs, Millis, Micros, Nanos are 0, 3, 6 and 9): a writer's stamp is
	// one load, with no conversion.
	ticks [4]atomic.Uint64
	res   time.Duration
	refs  int // writers holding it, under coarseClocks.mu
	stop  chan struct{}
}

// coarseClocks are the running coarse clocks, one per resolution.
var coarseClocks struct {
	mu    sync.Mutex
	byRes map[time.Duration]*coarseClock
}

// acquireCoarse returns the running clock of resolution res, starting it
// if none runs; the caller releases it with releaseCoarse.
func acquireCoarse(res time.Duration) *coarseClock {
	coarseClocks.mu.Lock()
	defer coarseClocks.mu.Unlock()
	if c := coarseClocks.byRes[res]; c != nil {
		c.refs++
		return c
	}
	if coarseClocks.byRes == nil {
		coarseClocks.byRes = make(map[time.Duration]*coarseClock)
	}
	c := &coarseClock{res: res, refs: 1, stop: make(chan struct{})}
	c.set(time.Now().UnixNano())
	go c.run()
	coarseClocks.byRes[res] = c
	return c
}

// run advances c every resolution until it is stopped; only this
// goroutine stores c.nanos once it runs.
// set advances the clock to ns, nanoseconds since the Unix epoch, in
// every tick unit.
func (c *coarseClock) set(ns int64) {
	for _, u := range [...]TickUnit{Secs, Millis, Micros, Nanos} {
		c.ticks[u/3].Store(u.fromNanos(ns))
	}
	c.nanos.Store(ns)
}

// in returns the clock's word for tick unit u.
func (c *coarseClock) in(u TickUnit) *atomic.Uint64 { return &c.ticks[u/3] }

func (c *coarseClock) run() {
	t := time.NewTicker(c.res)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			if now := time.Now().UnixNano(); now > c.nanos.Load() {
				c.set(now)
			}
		}
	}
}

// releaseCoarse gives up one hold of c, stopping it with the last.
func releaseCoarse(c *coarseClock) {
	coarseClocks.mu.Lock()
	defer coarseClocks.mu.Unlock()
	if c.refs--; c.refs == 0 {
		close(c.stop)
		delete(coarseClocks.byRes, c.res)
	}
}

// stampNow returns the timestamp of a record written now, in the
// channel's tick unit. writeSealed reads a running coarse clock itself.
func (w *Writer[T]) stampNow() uint64 {
	if w.coarseRes == 0 {
		return w.stamp.At(w.now())
	}
	if w.coarse == nil {
		w.coarse = acquireCoarse(w.coarseRes)
		w.coarseTicks = w.coarse.in(w.stamp)
	}
	return w.coarseTicks.Load()
}

// stopClock releases the writer's coarse clock, if it holds one.
func (w *Writer[T]) stopClock() {
	if w.coarse != nil {
		releaseCoarse(w.coarse)
		w.coarse, w.coarseTicks = nil, nil
	}
}
