package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/kekbit-go/kekbit"
	"io"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/journal"
	"github.com/kekbit-go/kekbit/replicate/jetstream"
)

// natsFlags are the flags replicate and mirror share.
type natsFlags struct {
	url                    string
	stream                 string
	subject                string
	minBackoff, maxBackoff time.Duration
}

func (f *natsFlags) add(cmd *cobra.Command, streamUsage string) {
	cmd.Flags().StringVar(&f.url, "nats", "", "NATS server URL; several, comma-separated, for a cluster (required)")
	cmd.Flags().StringVar(&f.stream, "stream", "", streamUsage)
	cmd.Flags().StringVar(&f.subject, "subject", "", "subject of the channel's messages (default kekbit.<channel id in hex>)")
	cmd.Flags().DurationVar(&f.minBackoff, "min-backoff", jetstream.DefaultMinBackoff, "first wait after a failure")
	cmd.Flags().DurationVar(&f.maxBackoff, "max-backoff", jetstream.DefaultMaxBackoff, "longest wait between retries")
}

func newReplicate() *cobra.Command {
	var ch channelFlags
	var nf natsFlags
	var replicas, window, batchBytes int
	var ackTimeout time.Duration
	var acceptLimits bool
	var journalDir string
	cmd := &cobra.Command{
		Use:   "replicate --nats URL [--stream NAME] CHANNEL | --journal DIR",
		Short: "Copy a channel into a NATS JetStream stream as it is written",
		Long: "replicate follows the channel and publishes its records, in order and in\n" +
			"batches, to a JetStream stream (created if missing: --replicas copies, file storage), until\n" +
			"the channel is closed or full; the stream then holds an end marker. Killed and\n" +
			"started again, it resumes after the last record the stream holds: each record\n" +
			"is in the stream exactly once. It waits and retries while the server is down or\n" +
			"slow, and stops cleanly on SIGINT/SIGTERM. With --root and --channel it waits for\n" +
			"the channel to be created. Progress (records behind) goes to stderr when it is\n" +
			"a terminal.",
		Example: "  kekbit replicate --nats nats://localhost:4222 --root /dev/shm/kekbit-$USER --channel 42\n" +
			"  kekbit replicate --nats nats://a:4222,nats://b:4222 --replicas 3 --stream ORDERS orders.kekbit\n" +
			"  kekbit replicate --nats nats://localhost:4222 --journal /dev/shm/orders",
		Args: oneChannel,
		RunE: func(cmd *cobra.Command, args []string) error {
			if nf.url == "" {
				return usagef("--nats URL is required")
			}
			cfg := jetstream.ReplicateConfig{
				URL: nf.url, Stream: nf.stream, Subject: nf.subject, Replicas: replicas, BatchBytes: batchBytes, AckTimeout: ackTimeout,
				MinBackoff: nf.minBackoff, MaxBackoff: nf.maxBackoff, AcceptLimits: acceptLimits,
			}
			if journalDir != "" {
				if len(args) > 0 || ch.root != "" || ch.channel.set {
					return usagef("--journal DIR replicates the journal in DIR: name no channel")
				}
				st := newStatus(cmd.ErrOrStderr())
				cfg.Volume, cfg.Logf = mmap.NewVolume(journalDir), st.logf
				jcfg := jetstream.ReplicateJournalConfig{ReplicateConfig: cfg}
				return runJournal(cmd, st, journalDir, "replicated", func(ctx context.Context, seg func(uint64)) error {
					jcfg.Segment = seg
					return jetstream.ReplicateJournal(ctx, jcfg)
				})
			}
			path, id, _, err := ch.resolve(args)
			if err != nil {
				return err
			}
			if ch.root != "" {
				cfg.Volume, cfg.ChannelID = mmap.NewVolume(ch.root), id
			} else {
				vol := mmap.NewFileVolume(path)
				ids, err := vol.List() // a file names its id in its header
				if err != nil {
					return err
				}
				if len(ids) == 0 {
					return fmt.Errorf("%s: %w", path, kekbit.ErrChannelNotFound)
				}
				cfg.Volume, cfg.ChannelID = vol, ids[0]
			}
			stderr := cmd.ErrOrStderr()
			st := newStatus(stderr)
			cfg.Logf = st.logf
			r, err := jetstream.NewReplicator(cfg)
			if err != nil {
				return usageError{err}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if st.live() {
				behind := &behindCounter{path: path}
				defer behind.close()
				st.run(ctx, func() string {
					s := r.Stats()
					if !s.Started {
						return "waiting for the stream"
					}
					return fmt.Sprintf("%d records replicated, %d behind", s.Acked, behind.count(s))
				})
			}
			err = r.Run(ctx)
			st.stop()
			if errors.Is(err, context.Canceled) {
				return nil // interrupted: a later run resumes
			}
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			return nil
		},
	}
	ch.add(cmd)
	nf.add(cmd, "JetStream stream (default KEKBIT_<channel id in hex>); it must hold this channel only")
	numberVar(cmd.Flags(), &replicas, "replicas", 1, "replicas of the stream when replicate creates it (3 on a three-node cluster)")
	numberVar(cmd.Flags(), &batchBytes, "batch-bytes", jetstream.DefaultBatchBytes, "most payload bytes of one message (a batch of records and heartbeats)")
	numberVar(cmd.Flags(), &window, "window", 0, "ignored: one batch is in flight at a time")
	cmd.Flags().MarkDeprecated("window", "one batch is in flight at a time; see --batch-bytes")
	cmd.Flags().DurationVar(&ackTimeout, "ack-timeout", jetstream.DefaultAckTimeout, "how long an acknowledgement may take before replicate re-syncs")
	cmd.Flags().StringVar(&journalDir, "journal", "", "replicate the journal in this folder (every segment, in order, into one stream: default KEKBIT_J_<journal id in hex>) instead of a channel")
	cmd.Flags().BoolVar(&acceptLimits, "accept-limits", false, "replicate into a stream whose limits drop messages (max_age, max_msgs or max_bytes with discard old, max_msgs_per_subject), refused otherwise; a new mirror cannot be made once messages are dropped")
	return cmd
}

func newMirror() *cobra.Command {
	var ch channelFlags
	var nf natsFlags
	var journalDir string
	var keepSegments int
	cmd := &cobra.Command{
		Use:   "mirror --nats URL --stream NAME CHANNEL | --journal DIR",
		Short: "Copy a stream that replicate fills into a local channel",
		Long: "mirror consumes the JetStream stream into a local channel with the same header\n" +
			"and the same records at the same positions, and closes it when the end marker\n" +
			"arrives. With --root DIR the channel goes where its id puts it under DIR\n" +
			"(add --channel ID to check the id). Stopped (SIGINT/SIGTERM, or killed), it\n" +
			"leaves the channel unclosed and a later run resumes it. Progress (records\n" +
			"behind) goes to stderr when it is a terminal.",
		Example: "  kekbit mirror --nats nats://localhost:4222 --stream KEKBIT_000000000000002a --root /srv/kekbit\n" +
			"  kekbit mirror --nats nats://localhost:4222 --stream ORDERS orders-copy.kekbit",
		Args: oneChannel,
		RunE: func(cmd *cobra.Command, args []string) error {
			if nf.url == "" || nf.stream == "" {
				return usagef("--nats URL and --stream NAME are required")
			}
			if journalDir != "" {
				if len(args) > 0 || ch.root != "" || ch.channel.set {
					return usagef("--journal DIR mirrors a journal into DIR: name no channel")
				}
				st := newStatus(cmd.ErrOrStderr())
				cfg := jetstream.MirrorJournalConfig{
					MirrorConfig: jetstream.MirrorConfig{Volume: mmap.NewVolume(journalDir), URL: nf.url, Stream: nf.stream, Subject: nf.subject,
						MinBackoff: nf.minBackoff, MaxBackoff: nf.maxBackoff, Logf: st.logf},
					Retention: journal.Retention{MaxSegments: keepSegments},
				}
				return runJournal(cmd, st, journalDir, "mirrored", func(ctx context.Context, seg func(uint64)) error {
					cfg.Segment = seg
					return jetstream.MirrorJournal(ctx, cfg)
				})
			}
			cfg := jetstream.MirrorConfig{URL: nf.url, Stream: nf.stream, Subject: nf.subject, MinBackoff: nf.minBackoff, MaxBackoff: nf.maxBackoff}
			name := ch.root
			switch {
			case len(args) == 0 && ch.root != "" && !ch.channel.set:
				cfg.Volume = mmap.NewVolume(ch.root)
			default:
				path, id, known, err := ch.resolve(args)
				if err != nil {
					return err
				}
				if ch.root != "" {
					cfg.Volume = mmap.NewVolume(ch.root)
				} else {
					cfg.Volume = mmap.NewFileVolume(path)
				}
				if known {
					cfg.ChannelID = id
				}
				name = path
			}
			st := newStatus(cmd.ErrOrStderr())
			cfg.Logf = st.logf
			m, err := jetstream.NewMirrorer(cfg)
			if err != nil {
				return usageError{err}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if st.live() {
				st.run(ctx, func() string {
					s := m.Stats()
					if !s.Started {
						return "waiting for the stream"
					}
					return fmt.Sprintf("%d records mirrored, %d behind", s.Records, s.Behind)
				})
			}
			err = m.Run(ctx)
			st.stop()
			if errors.Is(err, context.Canceled) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			return nil
		},
	}
	ch.add(cmd)
	nf.add(cmd, "JetStream stream that replicate fills (required)")
	cmd.Flags().StringVar(&journalDir, "journal", "", "mirror a journal (a stream replicate --journal fills) into this folder instead of a channel")
	numberVar(cmd.Flags(), &keepSegments, "keep-segments", 0, "with --journal: keep at most this many segments of the mirror journal (0: all)")
	return cmd
}

// runJournal runs the replication or mirror of the journal in dir, with
// the segment it is at as its progress line, until it ends or a signal
// stops it (exit 0: a later run resumes).
func runJournal(cmd *cobra.Command, st *status, dir, done string, run func(ctx context.Context, seg func(uint64)) error) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var seg atomic.Int64
	seg.Store(-1)
	if st.live() {
		st.run(ctx, func() string {
			if s := seg.Load(); s >= 0 {
				return fmt.Sprintf("segment %d being %s", s, done)
			}
			return "waiting for the journal or the stream"
		})
	}
	err := run(ctx, func(s uint64) { seg.Store(int64(s)) })
	st.stop()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	return nil
}

// behindCounter counts the records of the channel past what the stream
// holds, with a reader of its own that moves forward only.
type behindCounter struct {
	path string
	r    *domain.Reader
	seen uint64 // records from the replicator's start to where r is
}

func (b *behindCounter) count(s jetstream.ReplicateStats) uint64 {
	if !s.Started {
		return 0
	}
	if b.r == nil {
		st, err := mmap.OpenFile(b.path)
		if err != nil {
			return 0
		}
		if b.r, err = domain.NewReader(st); err != nil {
			st.Close()
			return 0
		}
		if err := b.r.MoveTo(s.Start); err != nil {
			b.close()
			return 0
		}
	}
	b.r.Read(func(domain.Record) error { b.seen++; return nil }, 0)
	if b.seen < s.Acked {
		return 0
	}
	return b.seen - s.Acked
}

func (b *behindCounter) close() {
	if b.r != nil {
		b.r.Close()
		b.r = nil
	}
}

// status shows a line of progress on stderr when it is a terminal, five
// times a second, and prints log lines above it.
type status struct {
	w    io.Writer
	tty  bool
	mu   sync.Mutex
	line string
	done chan struct{}
	wg   sync.WaitGroup
}

func newStatus(w io.Writer) *status {
	f, ok := w.(*os.File)
	return &status{w: w, tty: ok && isTerminal(f)}
}

func (s *status) live() bool { return s.tty }

// run refreshes the line with show() until stop.
func (s *status) run(ctx context.Context, show func() string) {
	s.done = make(chan struct{})
	s.wg.Go(func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-s.done:
				return
			case <-t.C:
				line := show()
				s.mu.Lock()
				s.line = line
				fmt.Fprintf(s.w, "\r\033[K%s", line)
				s.mu.Unlock()
			}
		}
	})
}

func (s *status) stop() {
	if s.done != nil {
		close(s.done)
		s.wg.Wait()
		s.done = nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.line != "" {
		fmt.Fprint(s.w, "\r\033[K")
		s.line = ""
	}
}

// logf prints a line about a failure or a retry.
func (s *status) logf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tty {
		fmt.Fprint(s.w, "\r\033[K")
	}
	fmt.Fprintf(s.w, format+"\n", args...)
	if s.line != "" {
		fmt.Fprint(s.w, s.line)
	}
}
