package journal

import (
	"time"

	"github.com/kekbit-go/kekbit/domain"
)

// Option configures a Writer (OpenWriter) or a Reader (OpenReader); each
// says which it applies to and the other ignores it.
type Option func(*config)

type config struct {
	// writer
	segmentSize uint32
	maxPayload  uint32
	tickUnit    domain.TickUnit
	timeout     time.Duration
	prepareAt   float64
	pretouch    bool
	clock       func() time.Time
	retention   Retention
	recycle     bool
	writerOpts  []domain.WriterOption

	// reader
	wait        domain.Wait
	keepWaiting bool
	autoCommit  bool

	// both: named readers' positions (retention reads them)
	positions Positions
	name      string
}

func newConfig(opts []Option) config {
	c := config{
		segmentSize: 1 << 20,
		tickUnit:    domain.Nanos,
		timeout:     time.Hour,
		prepareAt:   0.5,
		pretouch:    true,
		clock:       time.Now,
		wait:        domain.DefaultWait,
	}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// WithSegmentSize sets the capacity of the data region of each new
// segment (writer; default 1 MiB; at least 16 KiB).
func WithSegmentSize(n uint32) Option { return func(c *config) { c.segmentSize = n } }

// WithMaxPayload sets the longest payload of a new segment (writer;
// default: the longest the segment size allows, capacity/128 less the
// record's framing and envelope).
func WithMaxPayload(n uint32) Option { return func(c *config) { c.maxPayload = n } }

// WithTickUnit sets the unit of the records' timestamps in new segments
// (writer; default Nanos).
func WithTickUnit(u domain.TickUnit) Option { return func(c *config) { c.tickUnit = u } }

// WithTimeout sets the timeout written in new segments' headers, which a
// plain channel reader of one segment honours (writer; default an hour).
// A journal Reader does not give the writer up.
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// WithPrepareAt sets how far into a segment (a fraction of its capacity,
// 0..1) the writer starts making and pretouching the next one in the
// background (writer; default 0.5).
func WithPrepareAt(f float64) Option { return func(c *config) { c.prepareAt = min(max(f, 0), 1) } }

// WithPretouch sets whether a prepared segment's pages are faulted in
// before the roll (writer; default on; it matters for mapped files).
func WithPretouch(on bool) Option { return func(c *config) { c.pretouch = on } }

// WithClock makes the writer stamp records and headers with now instead
// of time.Now (writer; retention's ages use it too).
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		c.clock = now
		c.writerOpts = append(c.writerOpts, domain.WithWriteClock(now))
	}
}

// WithCoarseClock makes the writer stamp records from a coarse clock of
// this resolution (domain.WithCoarseClock: a load per record instead of a
// call to time.Now, at most about one resolution behind the write) rather
// than reading the system clock per record (writer). Headers and
// retention still read the clock of WithClock, or time.Now.
func WithCoarseClock(resolution time.Duration) Option {
	return func(c *config) { c.writerOpts = append(c.writerOpts, domain.WithCoarseClock(resolution)) }
}

// WithRetention sets the retention policy the writer applies after each
// roll (writer; default: keep everything).
func WithRetention(r Retention) Option { return func(c *config) { c.retention = r } }

// WithRecycle makes the writer recycle the file of a segment retention
// drops into its next segment instead of removing it and making a new one
// (writer; default off; a ports.Recycler volume: mmap on Linux): renamed,
// its header rewritten, no allocation and no zeroing of a fresh file, its
// pages already in memory. Of the segments one retention pass drops, the
// newest waits, listed, until the writer prepares its next segment. A
// segment that a reader (any open file or mapping of it, in any process)
// holds is never recycled, only removed; a reader of this package that
// opens it meanwhile finds it removed. A reader that opens segment files
// without this package's checks (the Rust crate's) could, in the instant
// of the rename, open a segment being recycled: do not use WithRecycle
// with such readers of a live journal. An open of the old segment in that
// instant also sends the writer's process SIGIO (the lease breaking),
// which Go ignores unless the program asked for it (signal.Notify), and
// waits for the rename; if the writer stopped in it, the open gives up
// after 2 seconds with ports.ErrChannelInUse naming the file.
func WithRecycle(on bool) Option { return func(c *config) { c.recycle = on } }

// WithPositions gives the writer the named readers' positions, so that
// retention keeps what they still need (writer).
func WithPositions(p Positions) Option { return func(c *config) { c.positions = p } }

// WithName makes the reader a named reader: it starts after the last
// position committed under name in p and Commit stores its position there
// (reader).
func WithName(p Positions, name string) Option {
	return func(c *config) { c.positions, c.name = p, name }
}

// WithAutoCommit makes a named reader commit its position after each
// record its handler (or loop body) took (reader).
func WithAutoCommit() Option { return func(c *config) { c.autoCommit = true } }

// WithWait sets how Follow and FollowRecords wait for the writer (reader;
// default domain.DefaultWait).
func WithWait(w domain.Wait) Option { return func(c *config) { c.wait = w } }

// WithKeepWaiting makes Follow and FollowRecords wait at the end of a
// closed journal for a writer to open it again, instead of ending with
// ErrClosed (reader).
func WithKeepWaiting() Option { return func(c *config) { c.keepWaiting = true } }
