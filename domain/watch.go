package domain

import (
	"time"

	"github.com/kekbit-go/kekbit/ports"
)

// idleClock is a reader's timeout: it starts when a read finds nothing new
// and runs out after the header's timeout unless the reader moves on.
type idleClock struct {
	timeout time.Duration
	now     func() time.Time
	idling  bool      // the last read found nothing new
	since   time.Time // when that started
}

// moved records that the reader got something, a heartbeat at least.
func (c *idleClock) moved() { c.idling = false }

// expired records a read that found nothing new at now, and reports
// whether the reader has then been idle for longer than the timeout. The
// first empty read starts the clock and never expires it.
func (c *idleClock) expired(now time.Time) bool {
	if !c.idling {
		c.idling, c.since = true, now
		return false
	}
	return now.Sub(c.since) > c.timeout
}

// watch is what a reader asks its storage beside reading it: whether the
// writer still holds the channel, and whether the file was cut short.
type watch struct {
	live    ports.Liveness // the storage, if it can tell the writer is alive
	sizer   ports.Sizer    // the storage, if its size can change under it
	sizedAt time.Time      // when the size was last asked for
}

// sizeEvery is how often at most an idle reader asks for the file's size.
const sizeEvery = time.Millisecond

// newWatch sets up the watch of st. writerLocks says whether the channel's
// writer takes the lock a Liveness probes: a file smaller than its header
// asks for was sized by the Rust crate, whose writer takes none, so a
// probe could not tell.
func newWatch(st ports.Storage, writerLocks bool) watch {
	var w watch
	if writerLocks {
		w.live, _ = st.(ports.Liveness)
	}
	w.sizer, _ = st.(ports.Sizer)
	return w
}

// due reports whether the size was last asked for more than sizeEvery
// before now.
func (w *watch) due(now time.Time) bool { return now.Sub(w.sizedAt) > sizeEvery }

// currentSize asks the storage for its size now, and reports whether it
// could.
func (w *watch) currentSize(now time.Time) (int64, bool) {
	w.sizedAt = now
	if w.sizer == nil {
		return 0, false
	}
	n, err := w.sizer.CurrentSize()
	return n, err == nil
}

// writerAlive asks the storage whether the writer holds the channel, or
// returns ErrLivenessUnknown.
func (w *watch) writerAlive() (bool, error) {
	if w.live == nil {
		return false, ErrLivenessUnknown
	}
	return w.live.WriterAlive()
}
