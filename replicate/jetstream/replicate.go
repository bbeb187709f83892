package jetstream

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/ports"
)

// ReplicateConfig says which channel Replicate copies into which stream.
type ReplicateConfig struct {
	// The channel: ChannelID in Volume (required), any ports.Volume:
	// mmap.NewVolume(root) for a folder of channels,
	// mmap.NewFileVolume(path) for one file. Replicate waits for the
	// channel to be created.
	Volume    ports.Volume
	ChannelID uint64

	// The NATS server: URL (several, comma-separated, for a cluster; the
	// default is nats://127.0.0.1:4222) with NATSOptions added to
	// Replicate's own; or Conn, a connection of the caller's, used as it
	// is and not closed. Replicate's own connection reconnects forever
	// and buffers nothing while disconnected.
	URL         string
	NATSOptions []nats.Option
	Conn        *nats.Conn

	// Stream is the JetStream stream (StreamName(id) if empty) and Subject
	// the subject (Subject(id) if empty). The stream must hold this
	// channel's replication and nothing else. If it does not exist,
	// Replicate creates it for Subject with Replicas replicas (1 if 0),
	// file storage, no limits, DenyDelete and DenyPurge, unless
	// NoCreate is set.
	Stream   string
	Subject  string
	Replicas int
	NoCreate bool

	// AcceptLimits lets Replicate publish into a stream whose limits drop
	// messages (max_age; max_msgs, max_bytes with discard old;
	// max_msgs_per_subject; a retention other than limits), which it
	// refuses otherwise with ErrStreamLimits: once messages are dropped,
	// no new mirror can be made from the stream, and a replicator
	// started then cannot check the stream's header marker against its
	// channel. A stream that lost everything is refused all the same
	// (ErrStreamLost): the channel is never published into it again.
	AcceptLimits bool

	// BatchBytes is the most payload bytes of a batch message
	// (DefaultBatchBytes if 0; never more than the server's max_payload
	// less 512 bytes for headers; a record larger than it goes alone).
	// AckTimeout is how long an acknowledgement may take before the
	// message counts as failed (DefaultAckTimeout if 0).
	BatchBytes int
	AckTimeout time.Duration

	// Window is ignored: one batch is in flight at a time, so that every
	// message is published once the one it follows is known (see the
	// package documentation).
	//
	// Deprecated: it used to bound the messages (one per record)
	// published and not yet acknowledged.
	Window int

	// StallTimeout: an acknowledgement that has not come this long after
	// the one before it is taken for one that will never come (its
	// message went to a leader that stepped down or died): the replicator
	// re-syncs at once rather than wait for AckTimeout
	// (DefaultStallTimeout if 0; negative, never: only AckTimeout).
	// Re-syncing early loses and repeats nothing; a server slower than
	// this only makes the replicator re-sync more often than it needs.
	StallTimeout time.Duration

	// After a failure Replicate waits MinBackoff, doubling up to
	// MaxBackoff (DefaultMinBackoff, DefaultMaxBackoff if 0), then
	// re-syncs with the stream and carries on.
	MinBackoff, MaxBackoff time.Duration

	// KeepAlive is ignored: every heartbeat of the channel is published
	// as an idle marker as soon as the replicator sees it, so that the
	// stream's chain depends on the channel alone and not on when a
	// replicator looked (two replicators of one channel then build the
	// same chain).
	//
	// Deprecated: it used to set how long heartbeats waited before an
	// idle marker carried them.
	KeepAlive time.Duration

	// Logf, if set, is told about failures and re-syncs.
	Logf func(format string, args ...any)

	skipLock bool // for tests: no lock file (SkipLock)

	// journal: the channel is a segment of a journal whose segments share
	// the stream (see ReplicateJournal); the segment before it may end
	// the stream's chain, and its header marker is found by bisection.
	journal bool
}

// ReplicateStats is what a Replicator has done so far in this run.
type ReplicateStats struct {
	// Started is set once the replicator has found where the stream
	// stands; Start is the channel position it then resumed from.
	Started bool
	Start   uint64
	// Position: every record before it is in the stream (acknowledged).
	Position uint64
	// Acked is the number of records acknowledged in this run; Published
	// the number of messages published, markers and re-sends included.
	Acked     uint64
	Published uint64
	// Resyncs counts the failures after which the replicator re-synced.
	Resyncs uint64
	// Done: the end marker is in the stream.
	Done bool
}

// Replicator copies one channel into a JetStream stream; see Replicate.
type Replicator struct {
	cfg ReplicateConfig

	started, done                          atomic.Bool
	start, position, acked, published, rsn atomic.Uint64

	headerChecked bool // the stream's header marker is this channel's
	journalEnded  bool // journal mode: the end marker published says the journal ended
}

// NewReplicator checks cfg and returns a replicator; Run starts it.
func NewReplicator(cfg ReplicateConfig) (*Replicator, error) {
	if cfg.Volume == nil {
		return nil, errors.New("kekbit: jetstream: name the channel: Volume and ChannelID")
	}
	if cfg.BatchBytes <= 0 {
		cfg.BatchBytes = DefaultBatchBytes
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = DefaultAckTimeout
	}
	if cfg.StallTimeout == 0 {
		cfg.StallTimeout = DefaultStallTimeout
	}
	return &Replicator{cfg: cfg}, nil
}

// Replicate follows a local channel and publishes each of its records, in
// order, to a JetStream stream, until the channel ends (it is closed or
// full: the end marker is then published and Replicate returns nil), ctx
// is done (ctx.Err()), or replication cannot go on (the channel is
// corrupt, truncated or abandoned by its writer; the stream holds
// something else: ErrMismatch).
//
// A replicator killed at any moment and started again resumes right after
// the last record the stream holds: the stream holds every record exactly
// once, in order. See the package documentation for how.
func Replicate(ctx context.Context, cfg ReplicateConfig) error {
	r, err := NewReplicator(cfg)
	if err != nil {
		return err
	}
	return r.Run(ctx)
}

// Stats returns what the replicator has done so far; it is safe to call
// from any goroutine while Run runs.
func (r *Replicator) Stats() ReplicateStats {
	return ReplicateStats{
		Started: r.started.Load(), Start: r.start.Load(), Position: r.position.Load(),
		Acked: r.acked.Load(), Published: r.published.Load(), Resyncs: r.rsn.Load(), Done: r.done.Load(),
	}
}

func (r *Replicator) logf(format string, args ...any) {
	if r.cfg.Logf != nil {
		r.cfg.Logf(format, args...)
	}
}

// openReader opens the channel, waiting for it to be created. A
// journal's segment that is not there while a later one is will never
// be: retention removed it before it was replicated, an error, not a
// wait.
func (r *Replicator) openReader(ctx context.Context) (*domain.Reader, error) {
	if !r.cfg.journal {
		return domain.OpenWhenReady(ctx, r.cfg.Volume, r.cfg.ChannelID)
	}
	for {
		wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		rd, err := domain.OpenWhenReady(wctx, r.cfg.Volume, r.cfg.ChannelID)
		cancel()
		if err == nil || ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
			return rd, err
		}
		ids, lerr := r.cfg.Volume.List()
		if lerr != nil {
			return nil, lerr
		}
		if len(ids) > 0 && ids[len(ids)-1] > r.cfg.ChannelID && !slices.Contains(ids, r.cfg.ChannelID) {
			return nil, fmt.Errorf("%w: the journal's segment %d was removed (retention) before it was replicated; its segments are now %d to %d",
				ErrMismatch, r.cfg.ChannelID, ids[0], ids[len(ids)-1])
		}
	}
}

// Run replicates until the channel's end is in the stream (nil), ctx is
// done, or an error stops it; see Replicate. Call it once.
func (r *Replicator) Run(ctx context.Context) error {
	rd, err := r.openReader(ctx)
	if err != nil {
		return err
	}
	defer rd.Close()
	h := rd.Header()
	if r.cfg.Stream == "" {
		r.cfg.Stream = StreamName(h.ChannelID)
	}
	if r.cfg.Subject == "" {
		r.cfg.Subject = Subject(h.ChannelID)
	}
	if !r.cfg.skipLock {
		l, err := lockReplication(r.cfg.Volume, r.cfg.ChannelID, r.cfg.Stream)
		if err != nil {
			return err
		}
		defer l.release()
	}
	nc, closeConn, err := connect(r.cfg.URL, "kekbit replicate "+hexID(h.ChannelID), r.cfg.Conn, r.cfg.NATSOptions)
	if err != nil {
		return err
	}
	defer closeConn()
	defer watchConn(nc, r.cfg.Logf, "kekbit replicate")()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(r.cfg.AckTimeout))
	if err != nil {
		return err
	}
	defer js.CleanupPublisher()
	api := &streamAPI{nc: nc, prefix: jetstream.DefaultAPIPrefix, stream: r.cfg.Stream, timeout: requestTimeout}

	bo := newBackoff(r.cfg.MinBackoff, r.cfg.MaxBackoff)
	for {
		before := r.acked.Load()
		s := &session{r: r, rd: rd, nc: nc, js: js, api: api, hdr: h, channel: hexID(h.ChannelID)}
		s.b.env, s.b.timed = h.Envelope.Len(), h.Envelope.Has(domain.EnvelopeTime)
		err := s.run(ctx)
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case isPermanent(err):
			return unwrapPermanent(err)
		}
		r.rsn.Add(1)
		if r.acked.Load() != before {
			bo.reset()
		}
		wait := bo.next()
		r.logf("kekbit replicate: %s; re-syncing in %v", describe(nc, err), wait)
		if back, err := waitRetry(ctx, nc, wait); err != nil {
			return err
		} else if back {
			bo.reset()
		}
	}
}

// session is one attempt: re-sync with the stream, then publish until the
// channel ends, ctx is done or something fails.
type session struct {
	r       *Replicator
	rd      *domain.Reader
	nc      *nats.Conn
	js      jetstream.JetStream
	api     *streamAPI
	hdr     domain.Header
	channel string // hexID of the channel id

	last    uint64 // the stream sequence of the last message, acknowledged
	prevEnd uint64 // the channel position after the last element published

	b      batch // the batch being filled; its buffer is the session's own
	timer  *time.Timer
	dup    bool // the last acknowledgement was of a duplicate
	failed bool
	err    error
}

// headroom is what a batch message's headers take, at most.
const headroom = 512

// pending is a message published and not yet acknowledged.
type pending struct {
	f       jetstream.PubAckFuture
	seq     uint64 // the stream sequence it must get
	records uint64 // the records it carries
	end     uint64 // the channel position after it
}

func (s *session) fail(err error) {
	if !s.failed {
		s.failed, s.err = true, err
	}
}

func (s *session) run(ctx context.Context) error {
	s.timer = time.NewTimer(time.Hour)
	s.timer.Stop()
	done, err := s.resync(ctx)
	if err != nil || done {
		return err
	}
	stopErr := s.follow(ctx)
	switch {
	case s.failed:
		// Drop the answer still awaited, if any: the re-sync reads where
		// the stream stands.
		s.js.CleanupPublisher()
		return s.err
	case stopErr != nil:
		return stopErr
	case s.r.done.Load():
		return nil
	}
	return ctx.Err()
}

// await waits for the answer to p and checks it: stored at the very
// sequence expected, or a duplicate there (this very message, stored by an
// earlier attempt: a batch's id names the channel bytes it holds). It
// reports whether it was. An answer that takes more than StallTimeout
// fails the session (see ReplicateConfig.StallTimeout).
func (s *session) await(p pending) bool {
	var stalled <-chan time.Time
	if d := s.r.cfg.StallTimeout; d > 0 {
		s.timer.Reset(d)
		defer s.timer.Stop()
		stalled = s.timer.C
	}
	select {
	case <-stalled:
		s.fail(fmt.Errorf("kekbit: jetstream: no acknowledgement for stream sequence %d (channel position %d) within %v: the stream's leader changed or is gone", p.seq, p.end, s.r.cfg.StallTimeout))
		return false
	case ack := <-p.f.Ok():
		if ack.Sequence != p.seq {
			s.fail(fmt.Errorf("kekbit: jetstream: message up to position %d: stream %s answered sequence %d (duplicate %v), expected %d", p.end, ack.Stream, ack.Sequence, ack.Duplicate, p.seq))
			return false
		}
		s.last, s.dup = p.seq, ack.Duplicate
		s.r.acked.Add(p.records)
		s.r.position.Store(p.end)
		return true
	case err := <-p.f.Err():
		s.fail(fmt.Errorf("kekbit: jetstream: publishing (stream sequence %d, channel position %d): %w", p.seq, p.end, err))
		return false
	}
}

// publish sends m as the next message of the chain and waits for its
// acknowledgement: it must land right after the last one, acknowledged
// (Nats-Expected-Last-Sequence), so the stream refuses it if anything
// else landed there. One message at a time: every message is published
// only once the one it follows is known to be the replicator's own, at
// the sequence it names; see the package documentation. It reports false
// once the session failed.
func (s *session) publish(m *nats.Msg, records, end uint64) bool {
	if s.failed {
		return false
	}
	m.Header[jetstream.ExpectedLastSeqHeader] = []string{strconv.FormatUint(s.last, 10)}
	f, err := s.js.PublishMsgAsync(m)
	if err != nil {
		s.fail(fmt.Errorf("kekbit: jetstream: publishing: %w", err))
		return false
	}
	s.r.published.Add(1)
	return s.await(pending{f: f, seq: s.last + 1, records: records, end: end})
}

// flush publishes the batch, if it holds anything, and starts the next.
func (s *session) flush() bool {
	if s.b.empty() {
		return !s.failed
	}
	if !s.publish(s.b.message(s.r.cfg.Subject, s.channel), s.b.records, s.b.end) {
		return false
	}
	s.prevEnd = s.b.end
	s.b.reset(s.prevEnd)
	return true
}

// resync asks the stream where the channel's replication stands and puts
// the reader right after it. It reports done when the stream holds the
// end marker already.
func (s *session) resync(ctx context.Context) (done bool, err error) {
	r := s.r
	stream, err := ensureStream(ctx, s.js, r.cfg.Stream, r.cfg.Subject, !r.cfg.NoCreate, r.cfg.Replicas)
	if err != nil {
		return false, err
	}
	scfg := stream.CachedInfo().Config
	if err := checkLimits(scfg, r.cfg.AcceptLimits); err != nil {
		return false, stop(err)
	}
	lastSeq, msgs, err := s.api.state(ctx)
	if err != nil {
		return false, err
	}
	subject := r.cfg.Subject
	m, err := s.api.get(ctx, 0, subject, true)
	switch {
	case errors.Is(err, errNoMessage):
		if msgs != 0 {
			return false, stop(fmt.Errorf("%w: stream %s holds %d messages, none on %s: give each channel a stream of its own", ErrMismatch, r.cfg.Stream, msgs, subject))
		}
		if lastSeq >= firstSeq(scfg) {
			// Not a new stream: one whose messages are gone. Publishing
			// the channel again would make a second replication after
			// the lost first one.
			return false, stop(lostError(scfg, subject, lastSeq+1, fmt.Sprintf("is empty but has held %d messages", lastSeq-firstSeq(scfg)+1)))
		}
		// A new replication: the header marker first.
		return false, s.startChain(lastSeq)
	case err != nil:
		return false, err
	case m.seq < lastSeq:
		after, err := s.api.get(ctx, lastSeq, "", false)
		if err != nil {
			return false, err
		}
		if after.subject != subject {
			return false, stop(fmt.Errorf("%w: stream %s holds a message on %q after this channel's last: give each channel a stream of its own", ErrMismatch, r.cfg.Stream, after.subject))
		}
		return false, fmt.Errorf("kekbit: jetstream: stream %s moved on while re-syncing (messages of an earlier attempt still landing, or another replicator of the channel)", r.cfg.Stream)
	case m.seq > lastSeq:
		return false, fmt.Errorf("kekbit: jetstream: stream %s moved on while re-syncing (messages of an earlier attempt still landing, or another replicator of the channel)", r.cfg.Stream)
	}
	lastMsg, err := s.api.element(m, subject)
	if err != nil {
		return false, stop(err)
	}
	last, err := lastMsg.last(s.hdr)
	if err != nil {
		return false, stop(err)
	}
	if r.cfg.journal && last.channel < s.hdr.ChannelID && last.marker == MarkerEnd {
		// The segment before ends the chain: this one starts after it,
		// if that one is of the same journal.
		if err := s.checkJournal(ctx, last.channel, m.seq); err != nil {
			return false, err
		}
		return false, s.startChain(m.seq)
	}
	if last.channel != s.hdr.ChannelID {
		return false, stop(fmt.Errorf("%w: stream %s holds channel %s on %s, this is channel %s", ErrMismatch, r.cfg.Stream, hexID(last.channel), subject, s.channel))
	}
	if !r.headerChecked {
		if err := s.checkHeader(ctx, scfg); err != nil {
			return false, err
		}
		r.headerChecked = true
	}
	s.last = m.seq
	switch last.marker {
	case MarkerHeader:
		err = s.rd.MoveTo(0)
	case MarkerIdle:
		err = s.rd.MoveTo(last.pos)
	case MarkerEnd:
		if err := s.rd.MoveTo(last.pos); err != nil {
			return false, stop(fmt.Errorf("%w: the stream's end marker is at position %d: %w", ErrMismatch, last.pos, err))
		}
		r.markStarted(last.pos)
		r.position.Store(last.pos)
		r.done.Store(true)
		return true, nil
	default:
		err = s.skipRecord(last)
	}
	if err != nil {
		return false, stop(fmt.Errorf("%w: the stream's last message (sequence %d) is at position %d: %w", ErrMismatch, m.seq, last.pos, err))
	}
	s.prevEnd = last.endPos()
	s.b.reset(s.prevEnd)
	r.markStarted(s.prevEnd)
	return false, nil
}

// startChain publishes the channel from its start after the stream's
// message at sequence last (0: none): the header marker first.
func (s *session) startChain(last uint64) error {
	s.last = last
	s.prevEnd = 0
	s.b.reset(0)
	if err := s.rd.MoveTo(0); err != nil {
		return stop(err)
	}
	s.r.markStarted(0)
	return s.publishHeader()
}

func (r *Replicator) markStarted(pos uint64) {
	r.position.Store(pos)
	if !r.started.Load() {
		r.start.Store(pos)
		r.started.Store(true)
	}
}

// skipRecord moves the reader past the record e, checking that the
// channel holds the same bytes there.
func (s *session) skipRecord(e *element) error {
	if err := s.rd.MoveTo(e.pos); err != nil {
		return err
	}
	for rec := range s.rd.Records() {
		pos, p := rec.Position, rec.Payload
		if pos != e.pos || !bytes.Equal(p, e.data) {
			return fmt.Errorf("the channel holds %d other bytes at position %d", len(p), pos)
		}
		return nil
	}
	return fmt.Errorf("the channel has no record there (%v)", s.rd.Err())
}

// checkHeader checks that the stream's header marker is this channel's.
// A stream whose first messages were dropped has none any more: refused
// unless AcceptLimits.
func (s *session) checkHeader(ctx context.Context, cfg jetstream.StreamConfig) error {
	var e *element
	if s.r.cfg.journal {
		// The segment's first message, after those of the segments
		// before it.
		lastSeq, _, err := s.api.state(ctx)
		if err != nil {
			return err
		}
		if e, err = firstOfChannel(ctx, s.api, s.r.cfg.Subject, s.hdr.ChannelID, lastSeq); err != nil {
			return err
		}
		if e == nil || e.channel != s.hdr.ChannelID {
			return stop(fmt.Errorf("%w: stream %s holds no message of segment %d though its last is", ErrMismatch, s.r.cfg.Stream, s.hdr.ChannelID))
		}
	} else {
		m, err := s.api.get(ctx, 1, s.r.cfg.Subject, false)
		if err != nil {
			return err
		}
		if e, err = s.api.element(m, s.r.cfg.Subject); err != nil {
			return stop(err)
		}
	}
	if e.marker != MarkerHeader && e.seq > firstSeq(cfg) {
		if s.r.cfg.AcceptLimits {
			s.r.logf("kekbit replicate: stream %s lost its messages before sequence %d, its header marker with them: the channel is checked against its records only", s.r.cfg.Stream, e.seq)
			return nil
		}
		return stop(lostError(cfg, s.r.cfg.Subject, e.seq, "does not start with the header marker"))
	}
	if e.marker != MarkerHeader {
		return stop(fmt.Errorf("%w: the first message on %s (sequence %d) is not a header marker", ErrMismatch, s.r.cfg.Subject, e.seq))
	}
	h, err := e.header()
	if err != nil {
		return stop(err)
	}
	if h != s.hdr {
		return stop(fmt.Errorf("%w: stream %s replicates channel %s written by %d at %d, the local one was written by %d at %d",
			ErrMismatch, s.r.cfg.Stream, hexID(h.ChannelID), h.WriterID, h.CreationTime, s.hdr.WriterID, s.hdr.CreationTime))
	}
	return nil
}

// beforeHeader, if set (by the tests), is called right before a header
// marker is published.
var beforeHeader func()

func (s *session) publishHeader() error {
	if beforeHeader != nil {
		beforeHeader()
	}
	if !s.publish(headerMessage(s.r.cfg.Subject, s.hdr), 0, 0) {
		s.js.CleanupPublisher()
		return s.err
	}
	if s.dup {
		// The stream took it for a duplicate of a header marker it holds
		// there: one of this channel's from an earlier attempt, or of
		// another channel with the same id, which the re-sync tells
		// apart (checkHeader).
		return fmt.Errorf("kekbit: jetstream: stream %s holds a header marker of channel %s at sequence %d already: re-syncing to check it", s.r.cfg.Stream, s.channel, s.last)
	}
	// Stored by this very publish: the stream's header marker is this
	// channel's. (Not before: a header marker that lands between the
	// re-sync's look and this one's is checked by the next re-sync.)
	s.r.headerChecked = true
	return nil
}

// follow reads the channel and publishes its records and heartbeats in
// batches until the channel ends (the end marker is published), ctx is
// done, or the session fails. A batch goes out when it is full or the
// replicator has caught up with the writer; while one waits for its
// acknowledgement the next fills in the channel. It returns an error that
// stops the replication: the channel is corrupt, truncated, or its writer
// is gone.
func (s *session) follow(ctx context.Context) error {
	rd := s.rd
	idle := newIdler()
	defer idle.stop()
	limit := s.r.cfg.BatchBytes
	writerGone := false // found gone: one more look, then stop
	for !s.failed && ctx.Err() == nil {
		before, records := rd.Position(), 0
		room := s.nc.MaxPayload() - headroom // the server's, once connected
		lim := limit
		if room > 0 {
			lim = min(lim, int(room))
		}
		for rec := range rd.Records() {
			pos, p := rec.Position, rec.Payload
			if room > 0 && int64(len(p))+binary.MaxVarintLen64+1 > room {
				return stop(fmt.Errorf("kekbit: replicate: the record at position %d has %d bytes, more than the NATS server takes (max_payload %d, less %d for headers)", pos, len(p), room+headroom, headroom))
			}
			if !s.b.empty() && (len(s.b.buf)+len(p)+3*binary.MaxVarintLen64 > lim || s.b.elements >= maxBatchElements) {
				if !s.flush() {
					return nil
				}
			}
			if !s.heartbeatsTo(pos) { // flushing at maxBatchElements
				return nil
			}
			s.b.record(p, rd.Time())
			if len(s.b.buf) >= lim && !s.flush() {
				return nil
			}
			if records++; records&1023 == 0 && ctx.Err() != nil {
				return nil
			}
		}
		if records > 0 {
			idle.reset()
		}
		var re *domain.ReadError
		switch err := rd.Err(); {
		case err == nil:
		case errors.As(err, &re) && (re.Err == domain.ErrClosed || re.Err == domain.ErrChannelFull):
			how := EndClosed
			if re.Err == domain.ErrChannelFull {
				how = EndFull
			}
			end := markerMessage(s.r.cfg.Subject, s.channel, MarkerEnd, how, re.Position, 0)
			if s.r.cfg.journal && s.journalEnded() {
				end.Header[HeaderJournalEnd] = []string{"true"}
			}
			if s.heartbeatsTo(re.Position) && s.flush() {
				if s.publish(end, 0, re.Position) {
					s.r.journalEnded = end.Header.Get(HeaderJournalEnd) != ""
					s.r.done.Store(true)
				}
			}
			return nil
		case errors.Is(err, domain.ErrTimeout):
			// The writer sent nothing for the header's timeout. Go on
			// while it holds the channel; stop if it is gone.
			if alive, aerr := rd.WriterAlive(); aerr == nil && !alive {
				return stop(fmt.Errorf("kekbit: replicate: %w", err))
			}
		default:
			return stop(fmt.Errorf("kekbit: replicate: %w", err))
		}
		// Caught up: what is read goes out now.
		if !s.heartbeatsTo(rd.Position()) || !s.flush() {
			return nil
		}
		if rd.Position() != before {
			writerGone = false
			continue
		}
		if writerGone {
			return stop(fmt.Errorf("kekbit: replicate: %w", &domain.ReadError{Err: domain.ErrWriterGone, Position: before}))
		}
		slept, err := idle.pause(ctx)
		if err != nil {
			return nil
		}
		if slept && idle.checkWriter() {
			// Gone? It may have published more just before it went: the
			// next round reads that, and stops only if there is nothing.
			alive, aerr := rd.WriterAlive()
			writerGone = aerr == nil && !alive
		}
	}
	return nil
}

// maxBatchElements bounds the elements of one batch (heartbeats take
// little room in it but are one element each for the mirror).
const maxBatchElements = 8192

// heartbeatsTo adds to the batch the heartbeats between its end and pos
// (the channel holds only heartbeats there), publishing it whenever it is
// full. It reports false once the session failed.
func (s *session) heartbeatsTo(pos uint64) bool {
	for s.b.end < pos {
		n := min((pos-s.b.end)/domain.RecordHeaderLen, uint64(maxBatchElements-s.b.elements))
		s.b.heartbeatsTo(s.b.end + n*domain.RecordHeaderLen)
		if s.b.elements >= maxBatchElements && !s.flush() {
			return false
		}
	}
	return !s.failed
}

// idler paces a caught-up replicator: it sleeps from 20µs doubling to
// 2ms, and tells when to ask whether the writer is still there (at most
// every 10ms).
type idler struct {
	sleep   time.Duration
	t       *time.Timer
	checked time.Time
}

func newIdler() *idler {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &idler{t: t}
}

func (i *idler) reset() { i.sleep = 0 }

func (i *idler) stop() { i.t.Stop() }

func (i *idler) pause(ctx context.Context) (bool, error) {
	i.sleep = min(max(2*i.sleep, 20*time.Microsecond), 2*time.Millisecond)
	i.t.Reset(i.sleep)
	select {
	case <-ctx.Done():
		return false, ctx.Err()
	case <-i.t.C:
		return true, nil
	}
}

func (i *idler) checkWriter() bool {
	if now := time.Now(); now.Sub(i.checked) >= 10*time.Millisecond {
		i.checked = now
		return true
	}
	return false
}
