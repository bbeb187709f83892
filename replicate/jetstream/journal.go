package jetstream

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/journal"
	"github.com/kekbit-go/kekbit/ports"
)

// JournalStreamName returns the default stream of the replication of the
// journal with id jid: "KEKBIT_J_" followed by the id in 32 lowercase hex
// digits.
func JournalStreamName(jid domain.JournalID) string { return fmt.Sprintf("KEKBIT_J_%x", jid[:]) }

// JournalSubject returns the default subject of the replication of the
// journal with id jid: "kekbit.j." followed by the id in hex.
func JournalSubject(jid domain.JournalID) string { return fmt.Sprintf("kekbit.j.%x", jid[:]) }

// ReplicateJournalConfig says which journal ReplicateJournal copies into
// which stream: the settings of one channel's replication, applied to
// each segment, with these differences. Volume holds the journal (package
// journal: mmap.NewVolume(folder)), whose first segment ReplicateJournal
// waits for; ChannelID is not used (each segment's is its index). Stream
// is JournalStreamName of the journal's id and Subject JournalSubject if
// empty. Window and KeepAlive are ignored, as for a channel.
type ReplicateJournalConfig struct {
	ReplicateConfig

	// Segment, if set, is called with the index of each segment as its
	// replication starts.
	Segment func(seg uint64)
}

// ReplicateJournal replicates a journal into one stream: its segments
// one after the other, each as Replicate replicates a channel (its header
// marker, its batches, its end marker), from the segment after the last
// one the stream holds in full, or the oldest the journal has for a new
// stream, following the writer's rolls. The end marker of a segment that
// carries the journal end mark (the journal's writer closed it) says so
// (Kekbit-Journal-End: true); ReplicateJournal then returns nil, unless
// the journal already goes on in a later segment. It returns ctx.Err()
// when ctx is done and an error when replication cannot go on (as
// Replicate; and a segment removed by the journal's retention before it
// was replicated, which it names).
//
// Killed and started again it resumes where the stream stands: every
// record of every segment is in the stream once, in order. One replicator
// of a journal into a stream runs at a time on a machine: it holds a lock
// file beside segment 0's file (0000_0000/journal.replicate-<stream> in the
// journal's folder, whether or not segment 0 is still there), and a second
// one stops with ErrReplicatorRunning. Retention on either side is its
// own: the journal may drop segments once they are replicated, the
// stream keeps what its limits keep (none that drop messages, unless
// AcceptLimits), and a mirror journal has a retention of its own.
func ReplicateJournal(ctx context.Context, cfg ReplicateJournalConfig) error {
	if cfg.Volume == nil {
		return errors.New("kekbit: jetstream: name the journal's Volume")
	}
	ids, err := waitSegments(ctx, cfg.Volume)
	if err != nil {
		return err
	}
	h, err := segmentInfo(cfg.Volume, ids[len(ids)-1])
	if err != nil {
		return err
	}
	if cfg.Stream == "" {
		cfg.Stream = JournalStreamName(h.JournalID)
	}
	if cfg.Subject == "" {
		cfg.Subject = JournalSubject(h.JournalID)
	}
	if !cfg.skipLock {
		if path, ok := channelPath(cfg.Volume, 0); ok {
			lockPath := filepath.Join(filepath.Dir(path), "journal.replicate-"+cfg.Stream)
			l, busy, err := lockFile(lockPath)
			if err != nil {
				return fmt.Errorf("kekbit: jetstream: locking %s: %w", lockPath, err)
			}
			if busy != "" {
				return fmt.Errorf("%w: journal into stream %s, by process %s (it holds %s)", ErrReplicatorRunning, cfg.Stream, busy, lockPath)
			}
			defer l.release()
		}
	}
	nc, closeConn, err := connect(cfg.URL, "kekbit replicate journal "+cfg.Stream, cfg.Conn, cfg.NATSOptions)
	if err != nil {
		return err
	}
	defer closeConn()
	api := &streamAPI{nc: nc, prefix: jetstream.DefaultAPIPrefix, stream: cfg.Stream, timeout: requestTimeout}
	bo := newBackoff(cfg.MinBackoff, cfg.MaxBackoff)
	checked := false // the stream is of this journal
	for {
		var seg uint64
		var done bool
		if !checked {
			err = streamOfJournal(ctx, api, cfg.Subject, h.JournalID)
			checked = err == nil
		}
		if err == nil {
			seg, done, err = nextSegmentToReplicate(ctx, cfg.Volume, api, cfg.Subject)
		}
		switch {
		case err == nil && done:
			return nil
		case err != nil && isPermanent(err):
			return unwrapPermanent(err)
		case err != nil:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			wait := bo.next()
			if cfg.Logf != nil {
				cfg.Logf("kekbit replicate: journal: %s; retrying in %v", describe(nc, err), wait)
			}
			if _, err := waitRetry(ctx, nc, wait); err != nil {
				return err
			}
			continue
		}
		bo.reset()
		if cfg.Segment != nil {
			cfg.Segment(seg)
		}
		rc := cfg.ReplicateConfig
		rc.ChannelID, rc.Conn, rc.skipLock, rc.journal = seg, nc, true, true
		r, err := NewReplicator(rc)
		if err != nil {
			return err
		}
		if err := r.Run(ctx); err != nil {
			return err
		}
	}
}

// streamOfJournal checks that the stream, if it holds anything, begins
// with a header marker of journal jid (one that does not begin with a
// header marker is left to the segments' replicators, which tell a
// stream that lost messages).
func streamOfJournal(ctx context.Context, api *streamAPI, subject string, jid domain.JournalID) error {
	m, err := api.get(ctx, 1, subject, false)
	var ae *apiError
	switch {
	case errors.Is(err, errNoMessage) || errors.As(err, &ae) && ae.ErrCode == jsErrCodeStreamNotFound:
		return nil
	case err != nil:
		return err
	}
	e, err := api.element(m, subject)
	if err != nil {
		return stop(err)
	}
	if e.marker != MarkerHeader {
		return nil
	}
	h, err := e.header()
	if err != nil {
		return stop(err)
	}
	if h.JournalID != jid {
		return stop(fmt.Errorf("%w: stream %s replicates journal %x, this is journal %x", ErrMismatch, api.stream, h.JournalID[:], jid[:]))
	}
	return nil
}

// nextSegmentToReplicate returns the segment whose replication comes
// next, from where the stream stands: the last one in it if it does not
// end there, the one after it if it does, the journal's oldest for a new
// stream; done if the stream holds the journal's end and the journal has
// nothing after it.
func nextSegmentToReplicate(ctx context.Context, vol ports.Volume, api *streamAPI, subject string) (seg uint64, done bool, err error) {
	ids, err := vol.List()
	if err != nil {
		return 0, false, err
	}
	m, err := api.get(ctx, 0, subject, true)
	if err != nil {
		var ae *apiError
		if errors.Is(err, errNoMessage) || errors.As(err, &ae) && ae.ErrCode == jsErrCodeStreamNotFound {
			// A new replication (the segment's replicator checks the
			// stream for messages lost).
			if len(ids) == 0 {
				return 0, false, errors.New("kekbit: replicate: the journal has no segment")
			}
			return ids[0], false, nil
		}
		return 0, false, err
	}
	e, err := api.element(m, subject)
	if err != nil {
		return 0, false, stop(err)
	}
	if e.marker != MarkerEnd {
		return e.channel, false, nil
	} else if e.jend {
		if _, later := segmentAfter(ids, e.channel); !later {
			return 0, true, nil
		}
	}
	next := e.channel + 1
	if len(ids) > 0 && ids[0] > next {
		return 0, false, stop(fmt.Errorf("%w: the journal's segments %d to %d were removed (retention) before they were replicated: stream %s ends with segment %d", ErrMismatch, next, ids[0]-1, api.stream, e.channel))
	}
	return next, false, nil
}

// jsErrCodeStreamNotFound is JetStream's error code for a stream that
// does not exist.
const jsErrCodeStreamNotFound = 10059

// segmentAfter returns the first of ids (sorted) after seg.
func segmentAfter(ids []uint64, seg uint64) (uint64, bool) {
	for _, id := range ids {
		if id > seg {
			return id, true
		}
	}
	return 0, false
}

// waitSegments lists vol until it holds a segment.
func waitSegments(ctx context.Context, vol ports.Volume) ([]uint64, error) {
	for {
		ids, err := vol.List()
		if err != nil {
			return nil, err
		}
		if len(ids) > 0 {
			return ids, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// segmentInfo returns the header of segment seg of the journal in vol,
// checking that it is one.
func segmentInfo(vol ports.Volume, seg uint64) (domain.Header, error) {
	r, err := domain.Open(vol, seg)
	if err != nil {
		return domain.Header{}, fmt.Errorf("kekbit: jetstream: segment %d: %w", seg, err)
	}
	defer r.Close()
	h := r.Header()
	if h.JournalID == (domain.JournalID{}) || h.Segment != seg {
		return h, stop(fmt.Errorf("%w: channel %d", journal.ErrNotJournal, seg))
	}
	return h, nil
}

// journalEnded reports whether the channel replicated, a journal's
// segment, carries the journal end mark.
func (s *session) journalEnded() bool {
	st, err := s.r.cfg.Volume.Open(s.hdr.ChannelID)
	if err != nil {
		return false
	}
	defer st.Close()
	return domain.JournalEnded(st)
}

// checkJournal checks that segment seg, whose end marker is the stream's
// last message (at lastSeq), is of the journal whose segment the session
// replicates: its header marker names the same journal.
func (s *session) checkJournal(ctx context.Context, seg, lastSeq uint64) error {
	e, err := firstOfChannel(ctx, s.api, s.r.cfg.Subject, seg, lastSeq)
	if err != nil {
		return err
	}
	if e == nil || e.channel != seg || e.marker != MarkerHeader {
		return stop(fmt.Errorf("%w: stream %s holds no header marker of segment %d, whose end marker is its last message", ErrMismatch, s.r.cfg.Stream, seg))
	}
	h, err := e.header()
	if err != nil {
		return stop(err)
	}
	if h.JournalID != s.hdr.JournalID {
		return stop(fmt.Errorf("%w: stream %s replicates journal %x, segment %d is of journal %x", ErrMismatch, s.r.cfg.Stream, h.JournalID[:], s.hdr.ChannelID, s.hdr.JournalID[:]))
	}
	return nil
}

// firstOfChannel returns the first message on subject, up to lastSeq,
// of channel ch or a later one (the segments of a journal's stream come
// one after the other), by bisection; nil if there is none.
func firstOfChannel(ctx context.Context, api *streamAPI, subject string, ch, lastSeq uint64) (*element, error) {
	var found *element
	lo, hi := uint64(1), lastSeq+1
	for lo < hi {
		mid := lo + (hi-lo)/2
		raw, err := api.get(ctx, mid, subject, false)
		if errors.Is(err, errNoMessage) {
			hi = mid
			continue
		}
		if err != nil {
			return nil, err
		}
		e, err := api.element(raw, subject)
		if err != nil {
			return nil, stop(err)
		}
		if e.channel >= ch {
			found, hi = e, mid
		} else {
			lo = e.seq + 1
		}
	}
	if found != nil && found.seq == lo {
		return found, nil
	}
	if lo > lastSeq {
		return nil, nil
	}
	raw, err := api.get(ctx, lo, subject, false)
	if errors.Is(err, errNoMessage) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return api.element(raw, subject)
}

// MirrorJournalConfig says which stream MirrorJournal copies into which
// local journal: the settings of one channel's mirror, applied to each
// segment, with these differences. Stream, the stream ReplicateJournal
// fills, is required; Subject may be left empty when the stream has a
// single one. Volume is the mirror journal's folder (required;
// mmap.NewVolume), which must open channels for writing
// (ports.WriteOpener). ChannelID is not used (each segment's is its
// index).
type MirrorJournalConfig struct {
	MirrorConfig

	// Retention, if set, is applied to the mirror journal each time a
	// segment is complete (journal.Prune, no named readers kept back unless
	// Positions is set): the mirror's retention is its own.
	Retention journal.Retention
	Positions journal.Positions

	// Segment, if set, is called with the index of each segment as its
	// mirror starts.
	Segment func(seg uint64)
}

// MirrorJournal consumes a stream that ReplicateJournal fills into a
// journal in a local folder: each segment, a channel with the source
// segment's header (journal id, segment index, sequence base), the same
// records at the same positions with the same sequence numbers and
// times, closed where the source's was and the next made after it, and
// the journal end mark where the source has it. Journal readers (journal.OpenReader) read
// it as they read the source. It returns nil once the journal's end is in
// the mirror journal, ctx.Err() when ctx is done, and an error when the
// stream and the mirror journal disagree.
//
// A MirrorJournal stopped in any way and started again resumes: it finds
// the last segment of the mirror journal, resumes it if it is not
// complete (as Mirror resumes a channel), else goes on with the next one.
// The mirror's writer seals each record again with the source's sequence
// number and the time the batch carries, so each segment file ends the
// source's byte for byte.
func MirrorJournal(ctx context.Context, cfg MirrorJournalConfig) error {
	if cfg.Stream == "" {
		return errors.New("kekbit: jetstream: name the stream to mirror")
	}
	if cfg.Volume == nil {
		return errors.New("kekbit: jetstream: name the mirror journal's Volume")
	}
	nc, closeConn, err := connect(cfg.URL, "kekbit mirror journal "+cfg.Stream, cfg.Conn, cfg.NATSOptions)
	if err != nil {
		return err
	}
	defer closeConn()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	probe := &Mirrorer{cfg: MirrorConfig{Stream: cfg.Stream, Subject: cfg.Subject}}
	bo := newBackoff(cfg.MinBackoff, cfg.MaxBackoff)
	retry := func(err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := bo.next()
		if cfg.Logf != nil {
			cfg.Logf("kekbit mirror: journal: %s; retrying in %v", describe(nc, err), wait)
		}
		_, werr := waitRetry(ctx, nc, wait)
		return werr
	}
	for probe.subject == "" {
		if err := probe.findSubject(ctx, js); err != nil {
			if isPermanent(err) {
				return unwrapPermanent(err)
			}
			if err := retry(err); err != nil {
				return err
			}
		}
	}
	api := &streamAPI{nc: nc, prefix: jetstream.DefaultAPIPrefix, stream: cfg.Stream, timeout: requestTimeout}
	for {
		seg, headerSeq, done, err := nextSegmentToMirror(ctx, cfg.Volume, api, probe.subject)
		if err == nil && done {
			return nil
		}
		if err == nil && headerSeq == 0 {
			err = errors.New("kekbit: mirror: waiting for the next segment's header marker")
		}
		if err != nil {
			if isPermanent(err) {
				return unwrapPermanent(err)
			}
			if errors.Is(err, errWaitSegment) {
				bo.reset()
			}
			if err := retry(err); err != nil {
				return err
			}
			continue
		}
		bo.reset()
		if cfg.Segment != nil {
			cfg.Segment(seg)
		}
		mc := cfg.MirrorConfig
		mc.Subject, mc.ChannelID, mc.Conn, mc.journal, mc.headerSeq = probe.subject, seg, nc, true, headerSeq
		m, err := NewMirrorer(mc)
		if err != nil {
			return err
		}
		m.subject, m.scfg = probe.subject, probe.scfg
		if err := m.Run(ctx); err != nil {
			return err
		}
		if r := cfg.Retention; r.MaxSegments > 0 || r.MaxBytes > 0 || r.MaxAge > 0 {
			if _, err := journal.Prune(cfg.Volume, cfg.Positions, r); err != nil && cfg.Logf != nil {
				cfg.Logf("kekbit mirror: journal retention: %v", err)
			}
		}
		if m.jended {
			if _, _, later, err := laterSegment(ctx, api, probe.subject, seg); err == nil && !later {
				return nil
			}
		}
	}
}

// errWaitSegment: the mirror journal is complete up to the stream's last
// segment, which has not begun yet.
var errWaitSegment = errors.New("kekbit: mirror: waiting for the next segment")

// nextSegmentToMirror returns the segment to mirror next and the stream
// sequence of its header marker: the mirror journal's last segment if it
// is not complete, else the next the stream holds; done if the mirror
// journal is complete and ends the journal (its last end marker says so
// and nothing follows).
func nextSegmentToMirror(ctx context.Context, vol ports.Volume, api *streamAPI, subject string) (seg, headerSeq uint64, done bool, err error) {
	ids, err := vol.List()
	if err != nil {
		return 0, 0, false, err
	}
	lastSeq, _, err := api.state(ctx)
	if err != nil {
		return 0, 0, false, err
	}
	if len(ids) == 0 {
		// A new mirror journal: the stream's first segment.
		e, err := firstOfChannel(ctx, api, subject, 0, lastSeq)
		if err != nil || e == nil {
			if err == nil {
				err = errWaitSegment
			}
			return 0, 0, false, err
		}
		if e.marker != MarkerHeader {
			return 0, 0, false, stop(fmt.Errorf("%w: stream %s does not start with a segment's header marker (sequence %d)", ErrStreamLost, api.stream, e.seq))
		}
		return e.channel, e.seq, false, nil
	}
	last := ids[len(ids)-1]
	if complete, err := segmentComplete(vol, last); err != nil {
		return 0, 0, false, err
	} else if !complete {
		e, err := firstOfChannel(ctx, api, subject, last, lastSeq)
		if err != nil {
			return 0, 0, false, err
		}
		if e == nil || e.channel != last || e.marker != MarkerHeader {
			return 0, 0, false, stop(fmt.Errorf("%w: stream %s holds no header marker of segment %d, which the mirror journal has", ErrMismatch, api.stream, last))
		}
		return last, e.seq, false, nil
	}
	// Complete: the next segment, once the stream has it; the end marker
	// of the last one says whether the journal ended. The stream must be
	// of the mirror journal's journal.
	if e, err := firstOfChannel(ctx, api, subject, last, lastSeq); err != nil {
		return 0, 0, false, err
	} else if e == nil || e.channel != last || e.marker != MarkerHeader {
		return 0, 0, false, stop(fmt.Errorf("%w: stream %s holds no header marker of segment %d, which the mirror journal has", ErrMismatch, api.stream, last))
	} else if err := sameJournal(ctx, api, subject, vol, last, e.seq); err != nil {
		return 0, 0, false, err
	}
	next, nextSeq, later, err := laterSegment(ctx, api, subject, last)
	if err != nil {
		return 0, 0, false, err
	}
	if later {
		if next != last+1 {
			return 0, 0, false, stop(fmt.Errorf("%w: stream %s goes from segment %d to %d", ErrMismatch, api.stream, last, next))
		}
		return next, nextSeq, false, nil
	}
	m, err := api.get(ctx, 0, subject, true)
	if err != nil {
		return 0, 0, false, err
	}
	e, err := api.element(m, subject)
	if err != nil {
		return 0, 0, false, stop(err)
	}
	if e.channel > last {
		return 0, 0, false, errWaitSegment // the next segment began meanwhile
	}
	if e.channel != last || e.marker != MarkerEnd {
		return 0, 0, false, stop(fmt.Errorf("%w: the mirror journal's segment %d is complete, stream %s ends elsewhere", ErrMismatch, last, api.stream))
	}
	if e.jend {
		// The mark may be missing if a mirror stopped right after the
		// close: write it (again).
		mm := &Mirrorer{cfg: MirrorConfig{Volume: vol}}
		if err := mm.writeJournalEnd(last); err != nil {
			return 0, 0, false, err
		}
		return 0, 0, true, nil
	}
	return 0, 0, false, errWaitSegment
}

// sameJournal checks that the header marker at seq of the stream is of
// the journal whose segment seg the mirror journal in vol has.
func sameJournal(ctx context.Context, api *streamAPI, subject string, vol ports.Volume, seg, seq uint64) error {
	local, err := segmentInfo(vol, seg)
	if err != nil {
		return err
	}
	raw, err := api.get(ctx, seq, subject, false)
	if err != nil {
		return err
	}
	e, err := api.element(raw, subject)
	if err != nil {
		return stop(err)
	}
	h, err := e.header()
	if err != nil {
		return stop(err)
	}
	if h.JournalID != local.JournalID {
		return stop(fmt.Errorf("%w: stream %s replicates journal %x, the mirror journal is %x", ErrMismatch, api.stream, h.JournalID[:], local.JournalID[:]))
	}
	return nil
}

// laterSegment returns the first segment after seg in the stream and the
// sequence of its first message, if there is one.
func laterSegment(ctx context.Context, api *streamAPI, subject string, seg uint64) (next, seq uint64, ok bool, err error) {
	lastSeq, _, err := api.state(ctx)
	if err != nil {
		return 0, 0, false, err
	}
	e, err := firstOfChannel(ctx, api, subject, seg+1, lastSeq)
	if err != nil || e == nil {
		return 0, 0, false, err
	}
	if e.marker != MarkerHeader {
		return 0, 0, false, stop(fmt.Errorf("%w: segment %d begins at sequence %d of stream %s without its header marker", ErrMismatch, e.channel, e.seq, api.stream))
	}
	return e.channel, e.seq, true, nil
}

// segmentComplete reports whether segment seg of the mirror journal in
// vol is closed (or full).
func segmentComplete(vol ports.Volume, seg uint64) (bool, error) {
	r, err := domain.Open(vol, seg)
	if err != nil {
		if errors.Is(err, ports.ErrChannelNotFound) {
			return false, nil
		}
		return false, err
	}
	defer r.Close()
	_, end := r.Read(func(domain.Record) error { return nil }, 0)
	return errors.Is(end, domain.ErrClosed) || errors.Is(end, domain.ErrChannelFull), nil
}
