package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/ports"
)

// channelWriter hides the data format from the write loop.
type channelWriter interface {
	write(line []byte) error
	Heartbeat() (int, error)
	Close() error
	Release() error
}

type rawWriter struct{ *domain.Writer[[]byte] }

func (w rawWriter) write(p []byte) error { _, err := w.Write(p); return err }

type textWriter struct{ *domain.Writer[string] }

func (w textWriter) write(p []byte) error { _, err := w.Write(string(p)); return err }

var tickUnits = map[string]domain.TickUnit{"nanos": domain.Nanos, "micros": domain.Micros, "millis": domain.Millis, "secs": domain.Secs}

// minHeartbeat is the shortest --heartbeat: each heartbeat takes 8 bytes of
// the channel, and a shorter idle time fills it with heartbeats.
const minHeartbeat = time.Millisecond

func newWrite() *cobra.Command {
	var ch channelFlags
	var writerID uint64
	var capacity, maxMsg uint32
	var timeout, heartbeat time.Duration
	var tick, format string
	var jsonl bool
	var env envelopeFlag
	var seqBase uint64
	var multi, closeAll bool
	cmd := &cobra.Command{
		Use:   "write [--envelope [FIELDS]] [--seq-base N] [flags] CHANNEL",
		Short: "Create a channel and append records from standard input",
		Long: "write creates the channel and appends one record per line of standard input\n" +
			"(newline stripped, empty lines skipped), or with --jsonl one record per JSON\n" +
			"line's \"data\" (base64; other keys ignored, lines without \"data\" skipped), so\n" +
			"that `kekbit dump --json A | kekbit write --jsonl B` copies a channel. A line's\n" +
			"bytes go in as they are: only with --format text is a trailing carriage return\n" +
			"(\\r, of a CRLF line end) stripped; a raw line keeps it, as every other byte.\n" +
			"A channel is written once: an existing one is never opened for writing again.\n" +
			"\n" +
			"At the end of its input write closes the channel (readers see it closed) and\n" +
			"exits 0. Stopped before (a --jsonl line that is not JSON, a record longer than\n" +
			"--max-msg, a full channel, an error reading standard input, SIGINT or SIGTERM,\n" +
			"the channel file cut short under it) it leaves the channel as a writer that\n" +
			"crashed would, without a close mark, so that readers see its writer gone\n" +
			"and never take the cut copy for a finished one; it exits 1 with one line on\n" +
			"stderr saying why and how many records went in. A signal that comes while\n" +
			"the channel is being created removes it once it is made, so the id is free.\n" +
			"\n" +
			"With --heartbeat D it sends a heartbeat (an empty record readers skip, which\n" +
			"tells them the writer is alive) each time its input has been idle for D: a\n" +
			"steady input sends none. D is 1ms at least; each heartbeat takes 8 bytes.\n" +
			"\n" +
			"With --envelope every record carries an envelope before its payload, which\n" +
			"readers check: a CRC32C of the record (crc), its sequence number (seq:\n" +
			"--seq-base for the first record, then one more each) and its write time\n" +
			"(time, in the --tick unit). --envelope alone means all three; --envelope\n" +
			"crc,seq (or --envelope=crc,seq) any of them. The envelope takes 8 bytes per\n" +
			"field of each record, on top of --max-msg, and the channel's close trailer\n" +
			"records where it ended and how many records it holds. The Rust crate reads\n" +
			"such a channel too, each payload starting with its envelope (see FORMAT.md).\n" +
			"\n" +
			"With --multi-writer the channel takes records from many writers at once:\n" +
			"write creates it, or joins it if it exists (started together, one creates and\n" +
			"the others join; the header flags of a joiner are ignored). At the end of its\n" +
			"input a joined or creating writer leaves the channel to the others without\n" +
			"closing it; with --close it closes the channel for every writer (their next\n" +
			"record fails, readers end closed after what was claimed before).",
		Example: "  seq 1000 | kekbit write --root /dev/shm/kekbit-$USER --channel 42\n" +
			"  seq 1000 | kekbit write --multi-writer --root /dev/shm/kekbit-$USER --channel 43\n" +
			"  tail -f app.log | kekbit write --format text --heartbeat 1s --envelope chan.kekbit\n" +
			"  kekbit dump --json A.kekbit | kekbit write --jsonl B.kekbit",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 2 && cmd.Flags().Changed("envelope") {
				return usagef("--envelope %s: not a list of envelope fields (crc, seq, time, all or none, joined by commas), and one channel at a time", args[0])
			}
			return oneChannel(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			unit, ok := tickUnits[tick]
			if !ok {
				return usagef("--tick %q: want nanos, micros, millis or secs", tick)
			}
			if format != "raw" && format != "text" {
				return usagef("--format %q: want raw or text", format)
			}
			path, id, known, err := ch.resolve(args)
			if err != nil {
				return err
			}
			if !known {
				id = 0
			}
			if seqBase != 0 && env.env == 0 {
				return usagef("--seq-base %d: the channel has no envelope: add --envelope", seqBase)
			}
			if heartbeat != 0 && heartbeat < minHeartbeat {
				return usagef("--heartbeat %v: shorter than %v (0 for none)", heartbeat, minHeartbeat)
			}
			h, err := domain.NewHeader(domain.Hints{
				WriterID: writerID, ChannelID: id, Capacity: capacity, MaxMsgLen: maxMsg,
				Timeout: unit.FromDuration(timeout), TickUnit: unit,
				Envelope: env.env, SeqBase: seqBase, MultiWriter: multi,
			})
			if err != nil {
				return usageError{err}
			}
			// The handler before the create: a signal during it must not
			// kill the process and leave a half-made channel.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if closeAll && !multi {
				return usagef("--close: only with --multi-writer (a single writer always closes at the end of its input)")
			}
			var w channelWriter
			joined := false
			if multi {
				w, joined, err = createOrJoin(ctx, path, h, format)
			} else {
				w, err = create(path, h, format)
			}
			if err != nil {
				return err
			}
			if joined && ctx.Err() != nil {
				w.Release()
				return fmt.Errorf("%s: interrupted while joining the channel: no record went in", path)
			}
			if ctx.Err() != nil { // signalled while creating: nothing went in
				// Removed while the writer's lock is still held, so that
				// no one takes the channel over in between.
				err := errors.Join(mmap.NewFileVolume(path).Remove(id), w.Release())
				if err != nil {
					return fmt.Errorf("%s: interrupted while creating the channel, and removing it failed: %w", path, err)
				}
				return fmt.Errorf("%s: interrupted while creating the channel: removed it, no record went in", path)
			}
			n, err := pump(ctx, cmd.InOrStdin(), w, jsonl, format == "text", heartbeat)
			if err == nil && ctx.Err() != nil {
				err = errInterrupted
			}
			if err == nil && multi && !closeAll {
				if err := w.Release(); err != nil {
					return fmt.Errorf("%s: leaving the channel after %s: %w", path, records(n), err)
				}
				return nil
			}
			if err == nil {
				if err := w.Close(); err != nil {
					return fmt.Errorf("%s: closing the channel after %s: %w", path, records(n), err)
				}
				return nil
			}
			// Stopped before the end of the input: no close mark.
			if rerr := w.Release(); rerr != nil {
				err = errors.Join(err, rerr)
			}
			if errors.Is(err, domain.ErrTruncated) {
				err = fmt.Errorf("the channel file was cut short under the writer: %w", err)
			}
			return fmt.Errorf("%s: %w; stopped after %s went in, the channel left unclosed (readers see its writer gone)", path, err, records(n))
		},
	}
	ch.add(cmd)
	numberVar(cmd.Flags(), &writerID, "writer-id", uint64(os.Getpid()), "writer id in the header")
	numberVar(cmd.Flags(), &capacity, "capacity", 1<<20, "bytes in the data region (rounded up to a multiple of 8, and to 16384 at least)")
	numberVar(cmd.Flags(), &maxMsg, "max-msg", 1024, "longest record payload in bytes, the envelope not counted (records are capped at capacity/128-8)")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "how long readers wait for anything before giving the writer up")
	cmd.Flags().StringVar(&tick, "tick", "nanos", "tick unit of the header: nanos, micros, millis or secs")
	cmd.Flags().StringVar(&format, "format", "raw", "data format: raw or text (UTF-8 only)")
	cmd.Flags().BoolVar(&jsonl, "jsonl", false, `read JSON lines with a base64 "data" key`)
	cmd.Flags().DurationVar(&heartbeat, "heartbeat", 0, "send a heartbeat each time the input has been idle this long, 1ms at least (0: never)")
	cmd.Flags().Var(&env, "envelope", "envelope fields every record carries: crc, seq, time, a list like crc,seq, all (the default when alone) or none")
	cmd.Flags().Lookup("envelope").NoOptDefVal = "all"
	numberVar(cmd.Flags(), &seqBase, "seq-base", 0, "sequence number of the first record (with an envelope)")
	cmd.Flags().BoolVar(&multi, "multi-writer", false, "a channel of many writers: create it, or join it if it exists; leave it open at the end of the input")
	cmd.Flags().BoolVar(&closeAll, "close", false, "with --multi-writer: close the channel for every writer at the end of the input")
	return cmd
}

// errInterrupted ends a write stopped by SIGINT or SIGTERM.
var errInterrupted = errors.New("interrupted")

// create makes the channel file at path with its writer, which guards
// its writes against the file being cut short under it.
func create(path string, h domain.Header, format string) (channelWriter, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	var w channelWriter
	_, err := mmap.CreateFile(path, h.FileSize(), func(st ports.Storage) error {
		if format == "text" {
			tw, err := domain.NewWriter(st, h, codecs.Text{}, domain.WithFaultGuard())
			w = textWriter{tw}
			return err
		}
		rw, err := domain.NewWriter(st, h, codecs.Raw{}, domain.WithFaultGuard())
		w = rawWriter{rw}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return w, nil
}

// createOrJoin creates the multi-writer channel at path, or joins it if
// it exists (waiting while its creator is at work); joined says which.
func createOrJoin(ctx context.Context, path string, h domain.Header, format string) (channelWriter, bool, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		w, err := create(path, h, format)
		if err == nil || !errors.Is(err, ports.ErrChannelExists) {
			return w, false, err
		}
		st, err := mmap.OpenToJoin(path)
		if err == nil {
			w, err := join(st, format)
			if err != nil {
				st.Close()
				return nil, true, fmt.Errorf("%s: joining: %w", path, err)
			}
			return w, true, nil
		}
		if !errors.Is(err, ports.ErrChannelNotReady) && !errors.Is(err, ports.ErrChannelNotFound) || time.Now().After(deadline) || ctx.Err() != nil {
			return nil, true, fmt.Errorf("%s: joining: %w", path, err)
		}
		time.Sleep(time.Millisecond) // its creator is at work, or it just went
	}
}

// join makes a writer of the multi-writer channel in st.
func join(st ports.Storage, format string) (channelWriter, error) {
	if format == "text" {
		w, err := domain.JoinStorage(st, codecs.Text{}, domain.WithFaultGuard())
		return textWriter{w}, err
	}
	w, err := domain.JoinStorage(st, codecs.Raw{}, domain.WithFaultGuard())
	return rawWriter{w}, err
}

// pump appends the records of in to w until in ends (nil) or ctx is done
// (nil too: the caller tells), and sends a heartbeat each time in has been
// idle for heartbeat (if > 0). It returns how many records went in. With
// text it strips a trailing \r from each line.
func pump(ctx context.Context, in io.Reader, w channelWriter, jsonl, text bool, heartbeat time.Duration) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // the reading goroutine stops at its next line
	lines := make(chan []byte)
	readErr := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 64<<10), 64<<20)
		sc.Split(splitLines)
		for sc.Scan() {
			select {
			case lines <- append([]byte(nil), sc.Bytes()...):
			case <-ctx.Done():
				return
			}
		}
		readErr <- sc.Err()
	}()
	var idle <-chan time.Time // the idle timer's, nil for no heartbeats
	reset := func() {}
	if heartbeat > 0 {
		t := time.NewTimer(heartbeat)
		defer t.Stop()
		idle, reset = t.C, func() { t.Reset(heartbeat) }
	}
	n, lineNo := 0, 0
	for {
		select {
		case <-ctx.Done():
			return n, nil
		case err := <-readErr:
			if err != nil {
				return n, fmt.Errorf("reading the input after line %d: %w", lineNo, err)
			}
			return n, nil
		case <-idle:
			if _, err := w.Heartbeat(); err != nil {
				return n, fmt.Errorf("a heartbeat after line %d: %w", lineNo, err)
			}
			reset()
		case line := <-lines:
			lineNo++
			reset()
			data, err := decodeLine(line, jsonl, text)
			if err != nil {
				return n, fmt.Errorf("input line %d: %w", lineNo, err)
			}
			if len(data) == 0 {
				continue
			}
			if err := w.write(data); err != nil {
				return n, fmt.Errorf("input line %d: %w", lineNo, err)
			}
			n++
		}
	}
}

// splitLines is bufio.ScanLines without its dropping of a \r before the
// newline: a raw line keeps every byte (decodeLine strips the \r of a
// text line).
func splitLines(data []byte, atEOF bool) (advance int, token []byte, err error) {
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// decodeLine returns the record a line of input carries; nil to skip it.
// A raw line keeps every byte; a text line loses a trailing \r.
func decodeLine(line []byte, jsonl, text bool) ([]byte, error) {
	if text {
		line = bytes.TrimSuffix(line, []byte("\r"))
	}
	if !jsonl || len(line) == 0 {
		return line, nil
	}
	var v struct {
		Data *[]byte `json:"data"`
	}
	if err := json.Unmarshal(line, &v); err != nil {
		return nil, fmt.Errorf("not a JSON line with base64 \"data\": %w", err)
	}
	if v.Data == nil {
		return nil, nil
	}
	return *v.Data, nil
}
