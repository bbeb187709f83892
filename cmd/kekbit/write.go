package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
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
}

type rawWriter struct{ *domain.Writer[[]byte] }

func (w rawWriter) write(p []byte) error { _, err := w.Write(p); return err }

type textWriter struct{ *domain.Writer[string] }

func (w textWriter) write(p []byte) error { _, err := w.Write(string(p)); return err }

var tickUnits = map[string]domain.TickUnit{"nanos": domain.Nanos, "micros": domain.Micros, "millis": domain.Millis, "secs": domain.Secs}

func newWrite() *cobra.Command {
	var ch channelFlags
	var writerID uint64
	var capacity, maxMsg uint32
	var timeout, heartbeat time.Duration
	var tick, format string
	var jsonl bool
	var env envelopeFlag
	var seqBase uint64
	cmd := &cobra.Command{
		Use:   "write [--envelope [FIELDS]] [--seq-base N] [flags] CHANNEL",
		Short: "Create a channel and append records from standard input",
		Long: "write creates the channel and appends one record per line of standard input\n" +
			"(newline stripped, empty lines skipped), or with --jsonl one record per JSON\n" +
			"line's \"data\" (base64; other keys ignored, lines without \"data\" skipped), so\n" +
			"that `kekbit dump --json A | kekbit write --jsonl B` copies a channel. It closes\n" +
			"the channel at end of input or on SIGINT/SIGTERM. A channel is written once: an\n" +
			"existing one is never opened for writing again.\n" +
			"\n" +
			"With --envelope every record carries an envelope before its payload, which\n" +
			"readers check: a CRC32C of the record (crc), its sequence number (seq:\n" +
			"--seq-base for the first record, then one more each) and its write time\n" +
			"(time, in the --tick unit). --envelope alone means all three; --envelope\n" +
			"crc,seq (or --envelope=crc,seq) any of them. The envelope takes 8 bytes per\n" +
			"field of each record, on top of --max-msg, and the channel's close trailer\n" +
			"records where it ended and how many records it holds. The Rust crate reads\n" +
			"such a channel too, each payload starting with its envelope (see FORMAT.md).",
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
			h, err := domain.NewHeader(domain.Hints{
				WriterID: writerID, ChannelID: id, Capacity: capacity, MaxMsgLen: maxMsg,
				Timeout: unit.FromDuration(timeout), TickUnit: unit,
				Envelope: env.env, SeqBase: seqBase,
			})
			if err != nil {
				return usageError{err}
			}
			w, err := create(path, h, format)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			n, err := pump(ctx, cmd.InOrStdin(), w, jsonl, heartbeat)
			if cerr := w.Close(); cerr != nil {
				err = errors.Join(err, cerr)
			}
			if err != nil {
				return fmt.Errorf("%s: after %d records: %w", path, n, err)
			}
			return nil
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
	cmd.Flags().DurationVar(&heartbeat, "heartbeat", 0, "send a heartbeat after this long without input (0: never)")
	cmd.Flags().Var(&env, "envelope", "envelope fields every record carries: crc, seq, time, a list like crc,seq, all (the default when alone) or none")
	cmd.Flags().Lookup("envelope").NoOptDefVal = "all"
	numberVar(cmd.Flags(), &seqBase, "seq-base", 0, "sequence number of the first record (with an envelope)")
	return cmd
}

// create makes the channel file at path with its writer.
func create(path string, h domain.Header, format string) (channelWriter, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	var w channelWriter
	_, err := mmap.CreateFile(path, h.FileSize(), func(st ports.Storage) error {
		if format == "text" {
			tw, err := domain.NewWriter(st, h, codecs.Text{})
			w = textWriter{tw}
			return err
		}
		rw, err := domain.NewWriter(st, h, codecs.Raw{})
		w = rawWriter{rw}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return w, nil
}

// pump appends the records of in to w until in ends or ctx is done, with
// heartbeats after every idle stretch of heartbeat (if > 0).
func pump(ctx context.Context, in io.Reader, w channelWriter, jsonl bool, heartbeat time.Duration) (int, error) {
	lines := make(chan []byte)
	readErr := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 64<<10), 64<<20)
		for sc.Scan() {
			select {
			case lines <- append([]byte(nil), sc.Bytes()...):
			case <-ctx.Done():
				return
			}
		}
		readErr <- sc.Err()
	}()
	var tick <-chan time.Time
	if heartbeat > 0 {
		t := time.NewTicker(heartbeat)
		defer t.Stop()
		tick = t.C
	}
	n, lineNo := 0, 0
	for {
		select {
		case <-ctx.Done():
			return n, nil
		case err := <-readErr:
			return n, err
		case <-tick:
			if _, err := w.Heartbeat(); err != nil {
				return n, err
			}
		case line := <-lines:
			lineNo++
			data, err := decodeLine(line, jsonl)
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

// decodeLine returns the record a line of input carries; nil to skip it.
func decodeLine(line []byte, jsonl bool) ([]byte, error) {
	line = []byte(strings.TrimSuffix(string(line), "\r"))
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
