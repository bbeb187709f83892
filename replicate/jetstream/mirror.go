package jetstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/ports"
)

// MirrorConfig says which stream Mirror copies into which local channel.
type MirrorConfig struct {
	// Stream is the JetStream stream Replicate fills (required); Subject
	// its subject, which may be left empty when the stream has a single
	// subject.
	Stream  string
	Subject string

	// The mirror channel goes into Volume (required) under the replicated
	// channel's id: mmap.NewVolume(root) for a folder of channels,
	// mmap.NewFileVolume(path) for one file. To resume a mirror the volume
	// must open channels for writing (ports.WriteOpener). If ChannelID is
	// not 0, the stream must replicate that channel.
	Volume    ports.Volume
	ChannelID uint64

	// The NATS server, as in ReplicateConfig.
	URL         string
	NATSOptions []nats.Option
	Conn        *nats.Conn

	// Back-off between failed attempts, as in ReplicateConfig.
	MinBackoff, MaxBackoff time.Duration

	// Logf, if set, is told about failures and retries.
	Logf func(format string, args ...any)

	// journal: the stream holds a journal's segments one after the
	// other (see MirrorJournal); this mirror makes segment ChannelID,
	// whose header marker is at stream sequence headerSeq, and stops at
	// its end marker.
	journal   bool
	headerSeq uint64
}

// MirrorStats is what a Mirrorer has done so far in this run.
type MirrorStats struct {
	// Started is set once the mirror channel is open (created or
	// resumed).
	Started bool
	// Records written to the mirror channel in this run; Position its
	// write position.
	Records  uint64
	Position uint64
	// Behind is the number of messages the stream held after the last one
	// applied, when it was delivered.
	Behind uint64
	// Done: the end marker arrived and the mirror channel is closed.
	Done bool
}

// Mirrorer copies a replication stream into a local channel; see Mirror.
type Mirrorer struct {
	cfg MirrorConfig

	started, done             atomic.Bool
	records, position, behind atomic.Uint64

	subject string
	scfg    jetstream.StreamConfig // the stream's configuration
	hdr     domain.Header
	w       *domain.Writer[[]byte]
	nextSeq uint64 // the stream sequence to consume from (0: the first)
	lastEnd uint64 // the position after the last element applied
	// After a resume the mirror reads the stream again from the message
	// that holds its last record (at resumePos, if resumeRec; from the
	// header marker on if it has none), checking that what follows it
	// continues the chain up to its write position resumeAt, which it
	// does not write again.
	resumed, resumeRec  bool
	resumePos, resumeAt uint64
	jended              bool // journal mode: the segment's end marker says the journal ended
	// The time of the record being written, if the stream carries it.
	timed bool
	tick  uint64
}

// clock is the mirror writer's clock, for a channel whose envelope has
// EnvelopeTime: the time of the record being written as the stream
// carries it, so the mirror's record is the source's to the byte; the
// mirror's own for a stream that carries no times (earlier versions).
func (m *Mirrorer) clock() time.Time {
	if m.timed {
		return time.Unix(0, int64(m.hdr.TickUnit.ToDuration(m.tick)))
	}
	return time.Now()
}

// NewMirrorer checks cfg and returns a mirrorer; Run starts it.
func NewMirrorer(cfg MirrorConfig) (*Mirrorer, error) {
	if cfg.Stream == "" {
		return nil, errors.New("kekbit: jetstream: name the stream to mirror")
	}
	if cfg.Volume == nil {
		return nil, errors.New("kekbit: jetstream: name the mirror channel's Volume")
	}
	return &Mirrorer{cfg: cfg}, nil
}

// Mirror consumes a stream that Replicate fills into a local channel with
// the same header and the same records at the same positions, so that
// local readers use the ordinary reader API and the kekbit command on it.
// It returns nil once the end marker has arrived and the mirror channel is
// closed; ctx.Err() when ctx is done; an error wrapping ErrMismatch or
// ErrBadMessage when the stream and the mirror channel disagree.
//
// A mirror stopped in any way (ctx, an error, its process killed) leaves
// its channel as a writer that went away leaves it, and a Mirror started
// again resumes it: it checks the channel's last record against the stream
// and carries on after it (see domain.Resume).
func Mirror(ctx context.Context, cfg MirrorConfig) error {
	m, err := NewMirrorer(cfg)
	if err != nil {
		return err
	}
	return m.Run(ctx)
}

// Stats returns what the mirrorer has done so far; it is safe to call from
// any goroutine while Run runs.
func (m *Mirrorer) Stats() MirrorStats {
	return MirrorStats{Started: m.started.Load(), Records: m.records.Load(), Position: m.position.Load(),
		Behind: m.behind.Load(), Done: m.done.Load()}
}

func (m *Mirrorer) logf(format string, args ...any) {
	if m.cfg.Logf != nil {
		m.cfg.Logf(format, args...)
	}
}

// Run mirrors until the end marker has been applied (nil), ctx is done,
// or an error stops it; see Mirror. Call it once.
func (m *Mirrorer) Run(ctx context.Context) (err error) {
	nc, closeConn, err := connect(m.cfg.URL, "kekbit mirror "+m.cfg.Stream, m.cfg.Conn, m.cfg.NATSOptions)
	if err != nil {
		return err
	}
	defer closeConn()
	defer watchConn(nc, m.cfg.Logf, "kekbit mirror")()
	defer func() {
		if m.w != nil && !m.done.Load() {
			// Give the channel up unclosed, for a later Mirror to resume.
			if rerr := m.w.Release(); rerr != nil && err == nil {
				err = rerr
			}
		}
	}()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	api := &streamAPI{nc: nc, prefix: jetstream.DefaultAPIPrefix, stream: m.cfg.Stream, timeout: requestTimeout}
	bo := newBackoff(m.cfg.MinBackoff, m.cfg.MaxBackoff)
	for {
		before := m.nextSeq
		err := m.session(ctx, js, api)
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case isPermanent(err):
			return unwrapPermanent(err)
		}
		if m.nextSeq != before {
			bo.reset()
		}
		wait := bo.next()
		m.logf("kekbit mirror: %s; retrying in %v", describe(nc, err), wait)
		if back, err := waitRetry(ctx, nc, wait); err != nil {
			return err
		} else if back {
			bo.reset()
		}
	}
}

// session is one attempt: find the subject, open the mirror channel if
// not done yet, then consume the stream.
func (m *Mirrorer) session(ctx context.Context, js jetstream.JetStream, api *streamAPI) error {
	if m.subject == "" {
		if err := m.findSubject(ctx, js); err != nil {
			return err
		}
	}
	if !m.started.Load() {
		if done, err := m.open(ctx, api); err != nil || done {
			return err
		}
	}
	cc := jetstream.OrderedConsumerConfig{FilterSubjects: []string{m.subject}, DeliverPolicy: jetstream.DeliverAllPolicy}
	if m.nextSeq > 1 {
		cc.DeliverPolicy, cc.OptStartSeq = jetstream.DeliverByStartSequencePolicy, m.nextSeq
	}
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	cons, err := js.OrderedConsumer(rctx, m.cfg.Stream, cc)
	cancel()
	if err != nil {
		return fmt.Errorf("kekbit: jetstream: consuming stream %s: %w", m.cfg.Stream, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(4096))
	if err != nil {
		return fmt.Errorf("kekbit: jetstream: consuming stream %s: %w", m.cfg.Stream, err)
	}
	defer it.Stop()
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("kekbit: jetstream: consuming stream %s: %w", m.cfg.Stream, err)
		}
		done, err := m.apply(msg)
		if err != nil || done {
			return err
		}
	}
}

// findSubject reads the stream's configuration and takes its only
// subject when none was given.
func (m *Mirrorer) findSubject(ctx context.Context, js jetstream.JetStream) error {
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	s, err := js.Stream(rctx, m.cfg.Stream)
	if err != nil {
		return fmt.Errorf("kekbit: jetstream: stream %s: %w", m.cfg.Stream, err)
	}
	m.scfg = s.CachedInfo().Config
	if m.cfg.Subject != "" {
		m.subject = m.cfg.Subject
		return nil
	}
	subjects := m.scfg.Subjects
	if len(subjects) != 1 || strings.ContainsAny(subjects[0], "*>") {
		return stop(fmt.Errorf("kekbit: jetstream: stream %s has subjects %q: name the channel's", m.cfg.Stream, subjects))
	}
	m.subject = subjects[0]
	return nil
}

// open creates the mirror channel, or resumes it if it exists. It reports
// done if the mirror channel is complete already.
func (m *Mirrorer) open(ctx context.Context, api *streamAPI) (done bool, err error) {
	if m.cfg.journal {
		first, err := api.get(ctx, m.cfg.headerSeq, m.subject, false)
		if err != nil {
			return false, err
		}
		e, err := api.element(first, m.subject)
		if err != nil {
			return false, stop(err)
		}
		if e.seq != m.cfg.headerSeq || e.marker != MarkerHeader || e.channel != m.cfg.ChannelID {
			return false, stop(fmt.Errorf("%w: stream %s: sequence %d is not the header marker of segment %d", ErrMismatch, m.cfg.Stream, m.cfg.headerSeq, m.cfg.ChannelID))
		}
		return m.openAt(ctx, api, e)
	}
	first, err := api.get(ctx, 1, m.subject, false)
	if errors.Is(err, errNoMessage) {
		lastSeq, msgs, err := api.state(ctx)
		if err != nil {
			return false, err
		}
		if msgs == 0 && lastSeq >= firstSeq(m.scfg) {
			return false, stop(lostError(m.scfg, m.subject, lastSeq+1, fmt.Sprintf("is empty but has held %d messages", lastSeq-firstSeq(m.scfg)+1)))
		}
		// Nothing replicated yet: the header marker, when it comes, makes
		// the channel. A mirror channel named in advance must not exist
		// then.
		if m.cfg.ChannelID != 0 {
			if err := m.clearDeadCreation(m.cfg.ChannelID); err != nil {
				return false, err
			}
		}
		if m.cfg.ChannelID != 0 && m.exists(m.cfg.ChannelID) {
			return false, stop(fmt.Errorf("%w: channel %s exists and stream %s holds nothing on %s", ErrMismatch, hexID(m.cfg.ChannelID), m.cfg.Stream, m.subject))
		}
		m.nextSeq = 0
		return false, nil
	}
	if err != nil {
		return false, err
	}
	e, err := api.element(first, m.subject)
	if err != nil {
		return false, stop(err)
	}
	if e.marker != MarkerHeader {
		if e.seq > firstSeq(m.scfg) {
			return false, stop(lostError(m.scfg, m.subject, e.seq, "does not start with the header marker"))
		}
		return false, stop(fmt.Errorf("%w: the first message on %s (sequence %d) is not a header marker", ErrMismatch, m.subject, e.seq))
	}
	return m.openAt(ctx, api, e)
}

// openAt creates or resumes the mirror channel of the header marker e.
func (m *Mirrorer) openAt(ctx context.Context, api *streamAPI, e *element) (done bool, err error) {
	h, err := e.header()
	if err != nil {
		return false, stop(err)
	}
	if m.cfg.ChannelID != 0 && h.ChannelID != m.cfg.ChannelID {
		return false, stop(fmt.Errorf("%w: stream %s replicates channel %s, not %s", ErrMismatch, m.cfg.Stream, hexID(h.ChannelID), hexID(m.cfg.ChannelID)))
	}
	path := m.path(h)
	if err := m.clearDeadCreation(h.ChannelID); err != nil {
		return false, err
	}
	if !m.exists(h.ChannelID) {
		if err := m.create(h); err != nil {
			return false, err
		}
		m.nextSeq = e.seq + 1
		return false, nil
	}
	return m.resume(ctx, api, h, e.seq, path)
}

// clearDeadCreation removes what a mirror (or any creator) killed while
// creating channel id left, so that the channel is made afresh; a live
// creator is waited for (a retried error).
func (m *Mirrorer) clearDeadCreation(id uint64) error {
	removed, err := clearDeadCreation(m.cfg.Volume, id)
	if err != nil {
		return fmt.Errorf("kekbit: mirror: channel %s: %w", hexID(id), err)
	}
	if removed {
		m.logf("kekbit mirror: removed what a creator killed while making channel %s left; creating it afresh", hexID(id))
	}
	return nil
}

// path names the mirror channel of h in messages.
func (m *Mirrorer) path(h domain.Header) string {
	return "mirror channel " + hexID(h.ChannelID)
}

// exists reports whether the volume has channel id, ready or not.
func (m *Mirrorer) exists(id uint64) bool {
	st, err := m.cfg.Volume.Open(id)
	if err == nil {
		st.Close()
		return true
	}
	return !errors.Is(err, ports.ErrChannelNotFound)
}

// create makes the mirror channel with header h.
func (m *Mirrorer) create(h domain.Header) error {
	if m.cfg.ChannelID != 0 && h.ChannelID != m.cfg.ChannelID {
		return stop(fmt.Errorf("%w: stream %s replicates channel %s, not %s", ErrMismatch, m.cfg.Stream, hexID(h.ChannelID), hexID(m.cfg.ChannelID)))
	}
	w, err := domain.Create(m.cfg.Volume, h, codecs.Raw{}, domain.WithWriteClock(m.clock))
	if err != nil {
		return stop(fmt.Errorf("kekbit: mirror: creating %s: %w", m.path(h), err))
	}
	m.w, m.hdr, m.lastEnd = w, h, 0
	m.position.Store(uint64(w.WriteOffset()))
	m.started.Store(true)
	return nil
}

// resume carries on the mirror channel at path: it reads it to its end,
// checks its last record against the stream, takes it over for writing
// and finds the stream sequence to go on from.
func (m *Mirrorer) resume(ctx context.Context, api *streamAPI, h domain.Header, headerSeq uint64, path string) (done bool, err error) {
	rd, err := domain.Open(m.cfg.Volume, h.ChannelID)
	if err != nil {
		return false, stop(fmt.Errorf("kekbit: mirror: %s: %w", path, err))
	}
	defer rd.Close()
	if rd.Header() != h {
		return false, stop(fmt.Errorf("%w: %s has another header than the channel stream %s replicates", ErrMismatch, path, m.cfg.Stream))
	}
	var lastPos uint64
	var lastData []byte
	var records uint64
	_, end := rd.Read(func(rec domain.Record) error {
		pos, p := rec.Position, rec.Payload
		lastPos, records = pos, records+1
		lastData = append(lastData[:0], p...)
		return nil
	}, 0)
	at := rd.Position()
	last, err := api.get(ctx, 0, m.subject, true)
	if err != nil {
		return false, err
	}
	from := headerSeq + 1 // the message that holds the mirror's last record
	if records > 0 {
		e, err := m.seek(ctx, api, h, lastPos, rankRecord, headerSeq, last.seq)
		if err != nil {
			return false, err
		}
		if e == nil || e.pos != lastPos || e.marker != "" || !bytes.Equal(e.data, lastData) {
			return false, stop(fmt.Errorf("%w: the last record of %s (position %d) is not in stream %s as it is", ErrMismatch, path, lastPos, m.cfg.Stream))
		}
		from = e.seq
	}
	switch {
	case errors.Is(end, domain.ErrClosed), errors.Is(end, domain.ErrChannelFull):
		le, err := api.element(last, m.subject)
		if err != nil {
			return false, stop(err)
		}
		if m.cfg.journal {
			// Later segments may follow: the end marker of this one.
			if le, err = m.seek(ctx, api, h, at, rankEnd, headerSeq, last.seq); err != nil {
				return false, err
			}
			if le == nil {
				return false, fmt.Errorf("kekbit: mirror: %s ended at %d: waiting for its end marker in stream %s", path, at, m.cfg.Stream)
			}
			if le.marker == MarkerEnd && le.jend && le.pos == at {
				if err := m.writeJournalEnd(h.ChannelID); err != nil {
					return false, err
				}
				m.jended = true
			}
		}
		full := errors.Is(end, domain.ErrChannelFull)
		if full && le.marker != MarkerEnd {
			// Stopped after the record that filled the channel, before
			// the end marker came: wait for it.
			return false, fmt.Errorf("kekbit: mirror: %s is full at %d: waiting for stream %s's end marker", path, at, m.cfg.Stream)
		}
		if le.marker != MarkerEnd || le.pos != at {
			return false, stop(fmt.Errorf("%w: %s ended at %d, stream %s does not end there", ErrMismatch, path, at, m.cfg.Stream))
		}
		if full {
			// Stopped between the end marker and the close mark.
			if err := m.closeFull(h, at, path); err != nil {
				return false, err
			}
		}
		m.hdr = h
		m.position.Store(at)
		m.started.Store(true)
		m.done.Store(true)
		return true, nil
	case end != domain.ErrNothingYet && !errors.Is(end, domain.ErrTimeout):
		return false, stop(fmt.Errorf("kekbit: mirror: %s: %w", path, end))
	}
	wo, ok := m.cfg.Volume.(ports.WriteOpener)
	if !ok {
		return false, stop(fmt.Errorf("kekbit: mirror: %s: %T cannot open a channel for writing, so the mirror cannot resume", path, m.cfg.Volume))
	}
	wst, err := wo.OpenForWrite(h.ChannelID)
	if err != nil {
		return false, stop(fmt.Errorf("kekbit: mirror: %w", err))
	}
	w, err := domain.Resume(wst, codecs.Raw{}, domain.WithWriteClock(m.clock))
	if err != nil {
		wst.Close()
		return false, stop(fmt.Errorf("kekbit: mirror: %s: %w", path, err))
	}
	if uint64(w.WriteOffset()) != at {
		w.Release()
		return false, stop(fmt.Errorf("kekbit: mirror: %s changed while being resumed", path))
	}
	m.nextSeq = from
	m.w, m.hdr, m.lastEnd = w, h, 0
	m.resumed, m.resumeRec, m.resumePos, m.resumeAt = true, records > 0, lastPos, at
	m.position.Store(at)
	m.started.Store(true)
	m.logf("kekbit mirror: resumed %s at position %d, stream sequence %d", path, at, m.nextSeq)
	return false, nil
}

// closeFull writes the close mark of the full mirror channel of h, whose
// writer is gone, at its write position at, as the writer's Close would
// have: the word domain.CloseMark, in the room the file keeps after the
// capacity. (domain.Resume gives no writer for a full channel.) A channel
// with an envelope, whose close also writes a trailer, is left as it is.
func (m *Mirrorer) closeFull(h domain.Header, at uint64, path string) error {
	if h.Envelope != 0 {
		m.logf("kekbit mirror: %s is full at %d; its close mark is not written (a channel with an envelope)", path, at)
		return nil
	}
	return m.update(h.ChannelID, "close "+path, func(st ports.Storage) error {
		off := int64(domain.DataOffset + at)
		word, err := st.LoadUint64(off)
		if err == nil && word != domain.CloseMark {
			err = st.StoreUint64(off, domain.CloseMark)
		}
		return err
	})
}

// update opens channel id of the mirror's volume for writing, which no
// writer holds, has write change it, flushes and closes it; what says
// what is done, for errors.
func (m *Mirrorer) update(id uint64, what string, write func(ports.Storage) error) error {
	wo, ok := m.cfg.Volume.(ports.WriteOpener)
	if !ok {
		return stop(fmt.Errorf("kekbit: mirror: %T cannot open a channel for writing, so the mirror cannot %s", m.cfg.Volume, what))
	}
	st, err := wo.OpenForWrite(id)
	if err != nil {
		return stop(fmt.Errorf("kekbit: mirror: %s: %w", what, err))
	}
	err = write(st)
	if err == nil {
		err = st.Flush()
	}
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return stop(fmt.Errorf("kekbit: mirror: %s: %w", what, err))
	}
	return nil
}

// writeJournalEnd writes the journal end mark into segment id of the
// mirror journal.
func (m *Mirrorer) writeJournalEnd(id uint64) error {
	return m.update(id, fmt.Sprintf("end the journal in segment %d", id), domain.WriteJournalEnd)
}

// The order of elements at one position: an idle marker may share its
// position with the record or the end marker that follows it.
const (
	rankIdle = iota
	rankRecord
	rankEnd
)

// rank is e's place among the elements at its position.
func (e *element) rank() int {
	switch e.marker {
	case MarkerIdle:
		return rankIdle
	case MarkerEnd:
		return rankEnd
	}
	return rankRecord
}

// before reports whether e comes before the element of the given rank at
// pos of channel ch in the chain (a journal's stream holds its segments,
// channels 0, 1, ..., one after the other).
func (e *element) before(ch, pos uint64, rank int) bool {
	if e.channel != ch {
		return e.channel < ch
	}
	return e.pos < pos || e.pos == pos && e.rank() < rank
}

// seek returns the first element after the header marker (at headerSeq)
// that does not come before the element of rank rank at position target
// (for rankIdle: whose position is at least target), nil if there is none
// up to lastSeq; its seq is the message it is in (a batch, or itself).
// Along the chain, positions and, at one position, ranks grow with stream
// sequences, so it bisects on the last element of each message: about
// log2(n) requests.
func (m *Mirrorer) seek(ctx context.Context, api *streamAPI, h domain.Header, target uint64, rank int, headerSeq, lastSeq uint64) (*element, error) {
	ch := h.ChannelID
	next := func(seq uint64) (*element, error) {
		raw, err := api.get(ctx, seq, m.subject, false)
		if err != nil {
			return nil, err
		}
		e, err := api.element(raw, m.subject)
		if err != nil {
			return nil, stop(err)
		}
		if e.marker == MarkerHeader && (!m.cfg.journal || e.channel == ch) {
			return nil, stop(fmt.Errorf("%w: a second header marker on %s at sequence %d", ErrMismatch, m.subject, e.seq))
		}
		return e, nil
	}
	lo, hi := headerSeq+1, lastSeq+1
	for lo < hi {
		mid := lo + (hi-lo)/2
		e, err := next(mid)
		if err == nil {
			e, err = e.last(h)
			if err != nil {
				err = stop(err)
			}
		}
		switch {
		case errors.Is(err, errNoMessage):
			hi = mid
		case err != nil:
			return nil, err
		case !e.before(ch, target, rank):
			hi = mid
		default:
			lo = e.seq + 1
		}
	}
	if lo > lastSeq {
		return nil, nil
	}
	e, err := next(lo)
	if errors.Is(err, errNoMessage) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	found, err := e.firstFrom(h, ch, target, rank)
	switch {
	case err != nil:
		return nil, stop(err)
	case found != nil:
		return found, nil
	}
	return nil, stop(fmt.Errorf("%w: stream %s: sequence %d has no element at or after position %d though its last has", ErrMismatch, m.cfg.Stream, e.seq, target))
}

// apply writes one message of the stream into the mirror channel. It
// reports done when the end marker closed the channel.
func (m *Mirrorer) apply(msg jetstream.Msg) (done bool, err error) {
	md, err := msg.Metadata()
	if err != nil {
		return false, fmt.Errorf("kekbit: jetstream: %w", err)
	}
	seq := md.Sequence.Stream
	e, err := parseElement(seq, msg.Headers(), msg.Data())
	if err != nil {
		return false, stop(err)
	}
	if e.marker == MarkerHeader {
		h, err := e.header()
		if err != nil {
			return false, stop(err)
		}
		if m.w == nil {
			if err := m.create(h); err != nil {
				return false, err
			}
		} else if h != m.hdr {
			return false, stop(fmt.Errorf("%w: header marker at sequence %d is not the mirror channel's", ErrMismatch, seq))
		}
		m.nextSeq = seq + 1
		return false, nil
	}
	if m.w == nil {
		return false, stop(fmt.Errorf("%w: stream %s does not start with a header marker (sequence %d)", ErrMismatch, m.cfg.Stream, seq))
	}
	if e.channel != m.hdr.ChannelID {
		return false, stop(fmt.Errorf("%w: sequence %d is of channel %s, the mirror's is %s", ErrMismatch, seq, hexID(e.channel), hexID(m.hdr.ChannelID)))
	}
	if err := e.each(m.hdr, func(el *element) error {
		if done {
			return stop(fmt.Errorf("%w: sequence %d holds elements after the end marker", ErrMismatch, seq))
		}
		done, err = m.applyElement(el)
		return err
	}); err != nil {
		if !isPermanent(err) {
			err = stop(err)
		}
		return false, err
	}
	m.nextSeq = seq + 1
	m.position.Store(uint64(m.w.WriteOffset()))
	m.behind.Store(md.NumPending)
	return done, nil
}

// again reports whether the element e, read after a resume, is one the
// mirror channel holds already: an element before its last record, that
// record, or a heartbeat up to its write position, each following the
// one before it in the chain from that record on. The first element
// past them ends the resume; one that does not follow, or that is not a
// heartbeat where the mirror channel has heartbeats, is ErrMismatch.
func (m *Mirrorer) again(e *element) (bool, error) {
	ch := m.hdr.ChannelID
	if m.resumeRec {
		if e.before(ch, m.resumePos, rankRecord) {
			return true, nil
		}
		if e.marker != "" || e.pos != m.resumePos {
			return false, stop(fmt.Errorf("%w: resuming: sequence %d has a %q element at %d where the mirror channel's last record is, at %d", ErrMismatch, e.seq, e.marker, e.pos, m.resumePos))
		}
		m.resumeRec, m.lastEnd = false, e.endPos()
		return true, nil
	}
	if prev := e.pos - e.gap; prev != m.lastEnd {
		return false, stop(fmt.Errorf("%w: resuming at position %d: sequence %d (position %d) follows position %d, the chain is at %d", ErrMismatch, m.resumeAt, e.seq, e.pos, prev, m.lastEnd))
	}
	if e.marker == MarkerIdle && e.pos <= m.resumeAt {
		m.lastEnd = e.pos
		return true, nil
	}
	if e.pos < m.resumeAt {
		return false, stop(fmt.Errorf("%w: resuming at position %d: sequence %d has a %q element at %d, where the mirror channel has heartbeats", ErrMismatch, m.resumeAt, e.seq, e.marker, e.pos))
	}
	m.resumed = false
	return false, nil
}

// applyElement writes one element (a record, heartbeat or end marker)
// into the mirror channel. It reports done when the end marker closed the
// channel.
func (m *Mirrorer) applyElement(e *element) (done bool, err error) {
	seq := e.seq
	if m.resumed {
		if again, err := m.again(e); err != nil || again {
			return false, err
		}
	}
	// The chain: this element must follow the last one applied exactly,
	// with only heartbeats (the gap) between them.
	if prev := e.pos - e.gap; prev != m.lastEnd {
		return false, stop(fmt.Errorf("%w: sequence %d (position %d) follows position %d, the mirror's last is %d: a record was lost or repeated", ErrMismatch, seq, e.pos, prev, m.lastEnd))
	}
	w := m.w
	for uint64(w.WriteOffset()) < e.pos {
		if _, err := w.Heartbeat(); err != nil {
			return false, stop(fmt.Errorf("%w: heartbeat at %d before sequence %d: %w", ErrMismatch, w.WriteOffset(), seq, err))
		}
	}
	if uint64(w.WriteOffset()) != e.pos {
		return false, stop(fmt.Errorf("%w: sequence %d is at position %d, the mirror channel is at %d", ErrMismatch, seq, e.pos, w.WriteOffset()))
	}
	switch e.marker {
	case "":
		m.timed, m.tick = e.timed, e.time
		if _, err := w.Write(e.data); err != nil {
			return false, stop(fmt.Errorf("%w: record at %d (sequence %d): %w", ErrMismatch, e.pos, seq, err))
		}
		if uint64(w.WriteOffset()) != e.endPos() {
			return false, stop(fmt.Errorf("%w: record at %d (sequence %d) ended at %d, not %d", ErrMismatch, e.pos, seq, w.WriteOffset(), e.endPos()))
		}
		m.records.Add(1)
	case MarkerEnd:
		if full := (uint64(m.hdr.Capacity)-e.pos)&^7 <= domain.RecordHeaderLen; full != (e.end == EndFull) {
			return false, stop(fmt.Errorf("%w: end marker %q at position %d of a channel of capacity %d", ErrMismatch, e.end, e.pos, m.hdr.Capacity))
		}
		if err := w.Close(); err != nil {
			return false, stop(fmt.Errorf("kekbit: mirror: closing: %w", err))
		}
		if m.cfg.journal && e.jend {
			// The journal end mark, once the writer let the segment go
			// (a reader at its close mark looks for the next segment
			// until it sees the mark; a mirror stopped in between writes
			// it when it resumes).
			if err := m.writeJournalEnd(m.hdr.ChannelID); err != nil {
				return false, err
			}
			m.jended = true
		}
		m.done.Store(true)
	}
	m.lastEnd = e.endPos()
	return e.marker == MarkerEnd, nil
}
