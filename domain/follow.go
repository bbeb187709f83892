package domain

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"runtime"
	"time"

	"github.com/kekbit-go/kekbit/internal/spin"
	"github.com/kekbit-go/kekbit/ports"
)

// Wait is how a following reader waits for the writer: it spins (re-reading
// at once) Spins times, then yields the processor Yields times, then sleeps,
// from MinSleep doubling up to MaxSleep. Any record or heartbeat starts it
// over. Spinning gives the lowest latency and burns a core; sleeping costs
// nothing and adds up to MaxSleep of latency.
//
// The zero Wait never spins or yields and sleeps 1µs between looks.
type Wait struct {
	// Spins is how many looks to make on the CPU before yielding; -1
	// spins for ever.
	Spins int
	// Pause is how long each spin waits, on the CPU, before it looks again
	// (0: not at all). Each look pulls the cache line the writer is
	// filling over to the reader's core; pausing leaves it to the writer,
	// so a busy writer runs faster, for up to Pause more latency.
	Pause time.Duration
	// Yields is how many looks to make, after the spins, each after
	// runtime.Gosched.
	Yields int
	// MinSleep and MaxSleep bound the sleeps after that: the first is
	// MinSleep (at least 1µs), each next one twice as long, up to MaxSleep.
	MinSleep time.Duration
	MaxSleep time.Duration
}

// DefaultWait spins for about a quarter of a millisecond, pausing 1µs
// between looks, yields a little, then sleeps 1µs doubling up to 1ms.
var DefaultWait = Wait{Spins: 256, Pause: time.Microsecond, Yields: 64, MinSleep: time.Microsecond, MaxSleep: time.Millisecond}

// Streaming spins without sleeping, pausing 2µs between looks: a reader
// that keeps up with a fast writer without slowing it (about 1.5 times
// BusySpin's rate across processes here), for up to 2µs more latency.
var Streaming = Wait{Spins: -1, Pause: 2 * time.Microsecond}

// BusySpin never gives the processor up: the lowest latency, one core
// always busy. Follow still asks the storage whether the writer is alive
// every livenessSpins rounds.
var BusySpin = Wait{Spins: -1}

// livenessSpins is how many idle rounds a never-sleeping reader makes
// between two questions to the storage about its writer (about a
// millisecond of spinning).
const livenessSpins = 1 << 16

// WithWait sets the wait strategy of Follow and FollowRecords.
func WithWait(w Wait) ReaderOption {
	return func(r *Reader) { r.wait = w }
}

// waiter keeps the state of one idle stretch.
type waiter struct {
	Wait
	round int
	sleep time.Duration
	timer *time.Timer // reused from one sleep to the next
}

// pause waits once, according to how long the reader has been idle. It
// reports whether the wait was a sleep (a good moment for slower checks).
func (w *waiter) pause(ctx context.Context) (slept bool, err error) {
	w.round++
	switch {
	case w.Spins < 0 || w.round <= w.Spins:
		if w.Pause > 0 {
			spin.Loop(spin.Rounds(w.Pause))
		}
		if w.round&255 != 0 { // ctx.Err takes a lock: not on every spin
			return false, nil
		}
		return false, ctx.Err()
	case w.round <= w.Spins+w.Yields:
		runtime.Gosched()
		return false, ctx.Err()
	}
	if w.sleep == 0 {
		w.sleep = max(w.MinSleep, time.Microsecond)
	}
	if w.timer == nil {
		w.timer = time.NewTimer(w.sleep)
	} else {
		w.timer.Reset(w.sleep) // Go 1.23 timers: no stale tick to drain
	}
	w.sleep = min(2*w.sleep, max(w.MaxSleep, w.MinSleep))
	select {
	case <-ctx.Done():
		w.timer.Stop()
		return true, ctx.Err()
	case <-w.timer.C:
		return true, nil
	}
}

func (w *waiter) reset() { w.round, w.sleep = 0, 0 }

// Follow reads records as they arrive and hands each to handler, blocking
// while the writer has nothing new. It returns the *ReadError where the
// channel ends (ErrClosed, ErrChannelFull, ErrCorrupt, ErrTruncated,
// ErrTimeout, or ErrWriterGone when the storage can tell that the writer
// process is gone), the error handler returned (the reader then stands
// after that record), ctx.Err() when ctx is done, or an I/O error.
func (r *Reader) Follow(ctx context.Context, handler func(Record) error) error {
	w := waiter{Wait: r.wait}
	total := 0
	for {
		n, err := r.Read(handler, 0)
		total += n
		if err == ErrNothingYet {
			if n > 0 { // records or heartbeats: the writer is there
				w.reset()
				err = ctx.Err() // a busy writer must not keep Follow from ending
			}
			if err == ErrNothingYet {
				err = r.idle(ctx, &w)
			}
		}
		if err != nil {
			if re, ok := err.(*ReadError); ok { // the reader's own, not a handler's
				re.BytesRead = total // the bytes of the whole Follow
			}
			return err
		}
	}
}

// FollowRecords is Follow as an iterator: it yields records as they arrive
// and ends where the channel ends or ctx is done; Err then says why (nil if
// the loop was broken off).
func (r *Reader) FollowRecords(ctx context.Context) iter.Seq[Record] {
	return func(yield func(Record) bool) {
		w := waiter{Wait: r.wait}
		for {
			before := r.pos
			for rec := range r.Records() {
				if !yield(rec) {
					return
				}
			}
			if r.err != nil {
				return
			}
			if r.pos != before {
				w.reset()
				if err := ctx.Err(); err != nil {
					r.err = err
					return
				}
			}
			if err := r.idle(ctx, &w); err != nil {
				r.err = err
				return
			}
		}
	}
}

// idle waits once for the writer; after a sleep it asks the storage whether
// the writer is still there.
func (r *Reader) idle(ctx context.Context, w *waiter) error {
	slept, err := w.pause(ctx)
	if err != nil {
		return err
	}
	if slept {
		r.refreshSize(r.clock.now())
	}
	// Ask about the writer after a sleep, or every livenessSpins rounds for
	// a strategy that never sleeps.
	if r.watch.live == nil || !(slept || w.round%livenessSpins == 0) {
		return nil
	}
	if alive, err := r.watch.live.WriterAlive(); err != nil || alive {
		return err
	}
	// The writer is gone. It may have published more just before it went.
	if _, _, err := r.classifyGuarded(r.pos, r.fileEnd); err != ErrNothingYet {
		return nil // something is there: the next Read reports it
	}
	if r.multi != nil && r.multi.claimedPast(r.pos) {
		return nil // claims of writers that died: the reader repairs them past its bound
	}
	return &ReadError{Err: ErrWriterGone, Position: r.pos}
}

// OpenWhenReady opens channel channelID of vol for reading, waiting while
// it does not exist yet or is still being created (ports.ErrChannelNotFound,
// ports.ErrChannelNotReady): it retries, sleeping 50µs doubling up to 10ms
// between tries, until the channel opens, another error occurs, or ctx is
// done (ctx.Err() wrapped with the last error seen).
func OpenWhenReady(ctx context.Context, vol ports.Volume, channelID uint64, opts ...ReaderOption) (*Reader, error) {
	// Poll the volume at a modest pace whatever the reader's wait strategy:
	// each try is a few system calls.
	w := waiter{Wait: Wait{MinSleep: 50 * time.Microsecond, MaxSleep: 10 * time.Millisecond}}
	for {
		r, err := Open(vol, channelID, opts...)
		if err == nil || !(errors.Is(err, ports.ErrChannelNotFound) || errors.Is(err, ports.ErrChannelNotReady)) {
			return r, err
		}
		if _, werr := w.pause(ctx); werr != nil {
			return nil, fmt.Errorf("%w (last: %v)", werr, err)
		}
	}
}
