package jetstream

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Defaults of the configurations.
const (
	// DefaultWindow is what ReplicateConfig.Window, now ignored, used to
	// default to.
	//
	// Deprecated: one batch is in flight at a time.
	DefaultWindow = 4096
	// DefaultBatchBytes is the most payload bytes of a batch message.
	DefaultBatchBytes = 64 << 10
	// DefaultAckTimeout is how long an acknowledgement may take.
	DefaultAckTimeout = 10 * time.Second
	// DefaultStallTimeout is how long an acknowledgement may be late
	// before the replicator takes it for lost and re-syncs.
	DefaultStallTimeout = 500 * time.Millisecond
	// DefaultMinBackoff is the first wait after a failure.
	DefaultMinBackoff = 50 * time.Millisecond
	// DefaultMaxBackoff is the longest wait between retries.
	DefaultMaxBackoff = 5 * time.Second
	// DefaultDuplicates is the duplicate window of a stream Replicate
	// creates.
	DefaultDuplicates = 2 * time.Minute
	// requestTimeout bounds one request to the JetStream API. It is short:
	// while a stream elects a leader nobody answers, and a request that
	// fails is retried at once (after MinBackoff), where a long one would
	// stall replication for as long.
	requestTimeout = time.Second
)

// permanent marks an error that retrying cannot cure: the run stops.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

func stop(err error) error { return permanent{err} }

func isPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p)
}

// unwrapPermanent returns the error inside a permanent mark.
func unwrapPermanent(err error) error {
	var p permanent
	if errors.As(err, &p) {
		return p.err
	}
	return err
}

// connect returns conn if set, else a new connection to url that keeps
// reconnecting forever and buffers nothing while disconnected (a publish
// then fails at once, and the caller re-syncs: nothing is resent behind its
// back). close closes what connect opened.
func connect(url, name string, conn *nats.Conn, opts []nats.Option) (nc *nats.Conn, close func(), err error) {
	if conn != nil {
		return conn, func() {}, nil
	}
	if url == "" {
		url = nats.DefaultURL
	}
	all := append([]nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.RetryOnFailedConnect(true),
		nats.ReconnectBufSize(-1),
	}, opts...)
	nc, err = nats.Connect(url, all...)
	if err != nil {
		return nil, nil, fmt.Errorf("kekbit: jetstream: connecting to %s: %w", url, err)
	}
	return nc, nc.Close, nil
}

// backoff is an exponential back-off bounded by a context.
type backoff struct {
	min, max, cur time.Duration
}

func newBackoff(lo, hi time.Duration) *backoff {
	if lo <= 0 {
		lo = DefaultMinBackoff
	}
	if hi <= 0 {
		hi = DefaultMaxBackoff
	}
	return &backoff{min: lo, max: max(hi, lo)}
}

func (b *backoff) reset() { b.cur = 0 }

// next returns the next wait.
func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	return b.cur
}

// waitRetry waits d before a retry, or less: until ctx is done (its
// error), or, when nc is not connected, until it connects again
// (reconnected, for the caller to reset its back-off).
func waitRetry(ctx context.Context, nc *nats.Conn, d time.Duration) (reconnected bool, err error) {
	var back chan nats.Status
	if !nc.IsConnected() {
		back = nc.StatusChanged(nats.CONNECTED)
		defer nc.RemoveStatusListener(back)
		if nc.IsConnected() {
			return true, nil
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false, ctx.Err()
	case <-t.C:
		return false, nil
	case <-back:
		return true, nil
	}
}

// watchConn logs, with logf, when nc loses its server and when it has
// one again, until the returned stop is called.
func watchConn(nc *nats.Conn, logf func(string, ...any), who string) (stop func()) {
	if logf == nil {
		return func() {}
	}
	ch := nc.StatusChanged(nats.DISCONNECTED, nats.RECONNECTING, nats.CONNECTED)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var down time.Time
		for st := range ch {
			switch {
			case st != nats.CONNECTED && down.IsZero():
				down = time.Now()
				why := ""
				if err := nc.LastError(); err != nil {
					why = " (" + err.Error() + ")"
				}
				logf("%s: disconnected from NATS%s; reconnecting", who, why)
			case st == nats.CONNECTED && !down.IsZero():
				logf("%s: reconnected to NATS at %s after %v", who, nc.ConnectedUrlRedacted(), time.Since(down).Round(time.Millisecond))
				down = time.Time{}
			}
		}
	}()
	return func() {
		nc.RemoveStatusListener(ch)
		<-done
	}
}

// describe says what went wrong for a log line: not being connected says
// more than the error a publish or request returns then.
func describe(nc *nats.Conn, err error) string {
	if !nc.IsConnected() {
		return fmt.Sprintf("not connected to NATS (%s)", nc.Status())
	}
	return err.Error()
}

// subjectMatches reports whether subject is one of the subjects the
// pattern (with * and > wildcards) stands for.
func subjectMatches(pattern, subject string) bool {
	p, s := strings.Split(pattern, "."), strings.Split(subject, ".")
	for i, tok := range p {
		switch {
		case tok == ">":
			return len(s) > i
		case i >= len(s):
			return false
		case tok != "*" && tok != s[i]:
			return false
		}
	}
	return len(p) == len(s)
}

// ensureStream returns the stream named name, creating it for subject if
// it does not exist (when create is set), and checks that it takes
// subject.
func ensureStream(ctx context.Context, js jetstream.JetStream, name, subject string, create bool, replicas int) (jetstream.Stream, error) {
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	s, err := js.Stream(rctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) && create {
		s, err = js.CreateStream(rctx, jetstream.StreamConfig{
			Name:        name,
			Description: "kekbit channel replication (" + subject + ")",
			Subjects:    []string{subject},
			Storage:     jetstream.FileStorage,
			Replicas:    max(replicas, 1),
			Duplicates:  DefaultDuplicates,
			DenyDelete:  true,
			DenyPurge:   true,
		})
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			s, err = js.Stream(rctx, name)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("kekbit: jetstream: stream %s: %w", name, err)
	}
	cfg := s.CachedInfo().Config
	for _, p := range cfg.Subjects {
		if subjectMatches(p, subject) {
			return s, nil
		}
	}
	return nil, stop(fmt.Errorf("%w: stream %s does not take subject %s (its subjects: %s)", ErrMismatch, name, subject, strings.Join(cfg.Subjects, ", ")))
}
