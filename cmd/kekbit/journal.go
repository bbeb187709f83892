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
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/journal"
	"github.com/kekbit-go/kekbit/journal/positions"
)

// A journal on the command line is a folder: its segments are the
// channels of mmap.NewVolume(DIR), the named readers' positions are in
// DIR/readers (positions.Mapped).

func journalVolume(dir string) *mmap.Volume { return mmap.NewVolume(dir) }

func journalPositions(dir string) *positions.Mapped {
	return positions.NewMapped(filepath.Join(dir, "readers"))
}

func newJournal() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "journal write|dump|ls|prune DIR",
		Short: "Write, dump, list and prune journals: series of channels that never fill",
		Long: "A journal is a folder of channels, its segments (segment k is channel id k),\n" +
			"that its writer rolls over when one is full; named readers keep their\n" +
			"positions in DIR/readers. Each segment is a complete channel with the\n" +
			"envelope (the Rust crate reads it on its own); sequence numbers count\n" +
			"across the journal. See package journal and FORMAT.md.",
		Example: "  seq 1000000 | kekbit journal write --segment-size 0x100000 orders/\n" +
			"  kekbit journal dump --reader billing --follow orders/\n" +
			"  kekbit journal ls orders/\n" +
			"  kekbit journal prune --max-segments 8 orders/",
	}
	cmd.AddCommand(newJournalWrite(), newJournalDump(), newJournalLs(), newJournalPrune())
	return cmd
}

// retentionFlags are the flags of a retention policy.
type retentionFlags struct{ r journal.Retention }

func (f *retentionFlags) add(cmd *cobra.Command) {
	numberVar(cmd.Flags(), &f.r.MaxSegments, "max-segments", 0, "keep at most this many segments (0: no limit)")
	numberVar(cmd.Flags(), &f.r.MaxBytes, "max-bytes", 0, "keep at most this many bytes of segments (0: no limit)")
	cmd.Flags().DurationVar(&f.r.MaxAge, "max-age", 0, "drop segments closed longer ago than this (0: no limit)")
	cmd.Flags().BoolVar(&f.r.Force, "force", false, "drop segments even if a named reader has not passed them")
}

// journalLines is a journal writer as the write loop of `kekbit write`
// wants it.
type journalLines struct{ *journal.Writer[[]byte] }

func (w journalLines) write(p []byte) error { _, err := w.Write(p); return err }

func newJournalWrite() *cobra.Command {
	var segment, maxMsg uint32
	var jsonl, recycle bool
	var heartbeat time.Duration
	var ret retentionFlags
	cmd := &cobra.Command{
		Use:     "write [--jsonl] [--segment-size N] [retention flags] [--recycle] DIR",
		Example: "  seq 1000000 | kekbit journal write --segment-size 0x100000 --max-segments 16 orders/\n  kekbit dump --json ch.kekbit | kekbit journal write --jsonl orders/",
		Short:   "Append standard input's lines to a journal, made if needed",
		Long: "write opens the journal in DIR (making it if DIR holds none; going on after\n" +
			"a writer that closed it or died) and appends one record per line of\n" +
			"standard input, or with --jsonl one per JSON line's base64 \"data\". It\n" +
			"closes the journal at the end of its input, so readers end, and exits 0.\n" +
			"Stopped before (a bad --jsonl line, a record too long, an input error,\n" +
			"SIGINT or SIGTERM) it leaves the journal unclosed, as a writer that died\n" +
			"would (readers wait; the next journal write goes on after the records that\n" +
			"went in), and exits 1 saying how many went in.",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			opts := []journal.Option{journal.WithSegmentSize(segment), journal.WithMaxPayload(maxMsg),
				journal.WithRetention(ret.r), journal.WithPositions(journalPositions(dir)), journal.WithRecycle(recycle)}
			w, err := journal.OpenWriter(journalVolume(dir), codecs.Raw{}, opts...)
			if err != nil {
				return fmt.Errorf("%s: %w", dir, err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			n, err := pump(ctx, cmd.InOrStdin(), journalLines{w}, jsonl, false, heartbeat)
			if err == nil && ctx.Err() != nil {
				err = errInterrupted
			}
			if err == nil {
				if err := w.Close(); err != nil {
					return fmt.Errorf("%s: closing the journal after %s: %w", dir, records(n), err)
				}
				return nil
			}
			// Stopped before the end of the input: the journal is left as a
			// writer that died leaves it, for the next one to go on.
			if rerr := w.Release(); rerr != nil {
				err = errors.Join(err, rerr)
			}
			return fmt.Errorf("%s: %w; stopped after %s went in, the journal left unclosed (the next journal write goes on after them)", dir, err, records(n))
		},
	}
	numberVar(cmd.Flags(), &segment, "segment-size", 1<<20, "bytes in each new segment's data region (at least 16384)")
	numberVar(cmd.Flags(), &maxMsg, "max-msg", 0, "longest record payload in bytes (0: the most a segment allows, capacity/128 less 32)")
	cmd.Flags().BoolVar(&jsonl, "jsonl", false, `read JSON lines with a base64 "data" key`)
	cmd.Flags().DurationVar(&heartbeat, "heartbeat", 0, "send a heartbeat each time the input has been idle this long, 1ms at least (0: never)")
	cmd.Flags().BoolVar(&recycle, "recycle", false, "with retention: make the next segments of the files of those it drops, nobody else holding them (Linux; not with the Rust crate's readers of a live journal)")
	ret.add(cmd)
	return cmd
}

// journalRecord and journalEnd are the JSON Lines of `journal dump --json`.
type journalRecord struct {
	Seq      uint64 `json:"seq"`
	Pos      uint64 `json:"pos"`
	Position string `json:"position"`
	Time     uint64 `json:"time"`
	Len      int    `json:"len"`
	Data     []byte `json:"data"`
}

type journalEnd struct {
	End      string `json:"end"`
	Pos      uint64 `json:"pos"`
	Position string `json:"position"`
}

func newJournalDump() *cobra.Command {
	var reader, fromTime string
	var fromSeq uint64
	var follow, asJSON, keep bool
	cmd := &cobra.Command{
		Use:     "dump [--reader NAME] [--from-seq N | --from-time T] [--follow] [--json] DIR",
		Example: "  kekbit journal dump orders/\n  kekbit journal dump --reader billing --follow --json orders/\n  kekbit journal dump --from-time 2026-12-02T01:00:00Z orders/",
		Short:   "Print a journal's records, across its segments",
		Long: "dump prints each record of the journal in DIR: \"seq segment:offset time data\"\n" +
			"(time in UTC, RFC 3339; data as text when it is printable UTF-8, else hex),\n" +
			"then where it stopped: \"end closed at POS\" (the journal was closed and read\n" +
			"to its end) or \"end caught-up at POS\" (without --follow).\n" +
			"\n" +
			"With --reader NAME it is the named reader NAME: it starts after the position\n" +
			"stored under NAME and stores its position after each record, so the next\n" +
			"dump --reader NAME goes on from there. --from-seq and --from-time start at a\n" +
			"sequence number, or at the first record written at an RFC 3339 time or later.\n" +
			"With --follow it waits for records until the journal is closed (or, with\n" +
			"--keep-waiting, for ever) or it is interrupted. With --json it prints JSON\n" +
			"Lines: {\"seq\":..,\"pos\":..,\"position\":\"S:O\",\"time\":..,\"len\":..,\"data\":\"<base64>\"}\n" +
			"and a last {\"end\":\"closed\",\"pos\":..,\"position\":\"S:O\"}.",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			if cmd.Flags().Changed("from-seq") && fromTime != "" {
				return usagef("--from-seq and --from-time: one at a time")
			}
			var from time.Time
			if fromTime != "" {
				var err error
				if from, err = time.Parse(time.RFC3339Nano, fromTime); err != nil {
					return usagef("--from-time %q: want an RFC 3339 time: %v", fromTime, err)
				}
			}
			opts := []journal.Option{}
			if reader != "" {
				opts = append(opts, journal.WithName(journalPositions(dir), reader), journal.WithAutoCommit())
			}
			if keep {
				opts = append(opts, journal.WithKeepWaiting())
			}
			vol := journalVolume(dir)
			r, err := journal.OpenReader(vol, opts...)
			if err != nil {
				return fmt.Errorf("%s: %w", dir, err)
			}
			defer r.Close()
			switch {
			case cmd.Flags().Changed("from-seq"):
				err = r.SeekSeq(fromSeq)
			case fromTime != "":
				err = r.SeekTime(from)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", dir, err)
			}
			out := bufio.NewWriterSize(cmd.OutOrStdout(), 64<<10)
			defer out.Flush()
			enc := json.NewEncoder(out)
			handler := func(rec journal.Record) error {
				var err error
				if asJSON {
					err = enc.Encode(journalRecord{Seq: rec.Seq, Pos: uint64(rec.Position), Position: rec.Position.String(), Time: rec.Time, Len: len(rec.Payload), Data: rec.Payload})
				} else {
					_, err = fmt.Fprintf(out, "%d %v %s %s\n", rec.Seq, rec.Position, formatTime(rec.Time, rec.Unit), printable(rec.Payload))
				}
				if err == nil && follow {
					err = out.Flush()
				}
				return err
			}
			if follow {
				ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
				defer stop()
				err = r.Follow(ctx, handler)
				if errors.Is(err, context.Canceled) {
					return nil
				}
			} else {
				_, err = r.Read(handler, 0)
			}
			return journalDumpEnd(out, enc, dir, asJSON, r.Position(), err)
		},
	}
	cmd.Flags().StringVar(&reader, "reader", "", "read as the named reader NAME, storing its position")
	numberVar(cmd.Flags(), &fromSeq, "from-seq", 0, "start at this sequence number")
	cmd.Flags().StringVar(&fromTime, "from-time", "", "start at the first record written at this RFC 3339 time or later")
	cmd.Flags().BoolVar(&follow, "follow", false, "wait for new records until the journal is closed")
	cmd.Flags().BoolVar(&keep, "keep-waiting", false, "with --follow: wait at the end of a closed journal for it to be opened again")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON Lines")
	return cmd
}

// journalDumpEnd prints where a dump stopped, or returns the error that
// stopped it.
func journalDumpEnd(out io.Writer, enc *json.Encoder, dir string, asJSON bool, pos journal.Position, err error) error {
	end := ""
	switch {
	case errors.Is(err, journal.ErrClosed):
		end = "closed"
	case errors.Is(err, journal.ErrNothingYet):
		end = "caught-up"
	default:
		return fmt.Errorf("%s: at %v: %w", dir, pos, err)
	}
	if asJSON {
		return enc.Encode(journalEnd{End: end, Pos: uint64(pos), Position: pos.String()})
	}
	_, werr := fmt.Fprintf(out, "end %s at %v\n", end, pos)
	return werr
}

// journalSegment and journalReader are what `journal ls` lists.
type journalSegment struct {
	Segment  uint64 `json:"segment"`
	FirstSeq uint64 `json:"first_seq"`
	Bytes    int64  `json:"bytes"`
	Created  string `json:"created"`
	Closed   bool   `json:"closed"`
	Ended    bool   `json:"ended,omitempty"`
}

type journalReader struct {
	Name       string `json:"name"`
	Position   string `json:"position"`
	LagRecords uint64 `json:"lag_records"`
	LagBytes   uint64 `json:"lag_bytes"`
	Error      string `json:"error,omitempty"`
}

type journalListing struct {
	Journal  string           `json:"journal"`
	Segments []journalSegment `json:"segments"`
	Readers  []journalReader  `json:"readers"`
}

func newJournalLs() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "ls [--json] DIR",
		Example: "  kekbit journal ls orders/\n  kekbit journal ls --json orders/",
		Short:   "List a journal's segments and named readers, with their lag",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			l, err := listJournal(dir)
			if err != nil {
				return fmt.Errorf("%s: %w", dir, err)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(out).Encode(l)
			}
			fmt.Fprintf(out, "journal %s\n", l.Journal)
			for _, s := range l.Segments {
				state := "open"
				if s.Closed {
					state = "closed"
				}
				if s.Ended {
					state += ",ended"
				}
				fmt.Fprintf(out, "segment %d first-seq %d bytes %d created %s %s\n", s.Segment, s.FirstSeq, s.Bytes, s.Created, state)
			}
			for _, r := range l.Readers {
				if r.Error != "" {
					fmt.Fprintf(out, "reader %s at %s: %s\n", r.Name, r.Position, r.Error)
					continue
				}
				fmt.Fprintf(out, "reader %s at %s lag %d records %d bytes\n", r.Name, r.Position, r.LagRecords, r.LagBytes)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

// listJournal reads what `journal ls` shows.
func listJournal(dir string) (journalListing, error) {
	vol := journalVolume(dir)
	l := journalListing{Segments: []journalSegment{}, Readers: []journalReader{}}
	ids, err := vol.List()
	if err != nil {
		return l, err
	}
	for _, id := range ids {
		st, err := vol.Open(id)
		if err != nil {
			return l, err
		}
		b := make([]byte, domain.ExtOffset+domain.ExtLen)
		_, err = st.ReadAt(b, 0)
		h, herr := domain.DecodeHeader(b)
		_, _, closed := domain.ReadTrailer(st)
		ended := domain.JournalEnded(st)
		size := st.Size()
		st.Close()
		if err = errors.Join(err, herr); err != nil {
			return l, fmt.Errorf("segment %d: %w", id, err)
		}
		l.Journal = h.JournalID.String()
		l.Segments = append(l.Segments, journalSegment{Segment: id, FirstSeq: h.SeqBase, Bytes: size,
			Created: h.Created().UTC().Format(time.RFC3339Nano), Closed: closed, Ended: ended})
	}
	pos := journalPositions(dir)
	names, err := pos.Names()
	if err != nil {
		return l, err
	}
	for _, name := range names {
		m, ok, err := pos.Load(name)
		jr := journalReader{Name: name}
		switch {
		case err != nil:
			jr.Error = err.Error()
		case !ok:
			jr.Error = "no position stored"
		default:
			jr.Position = m.Position.String()
			if m.Journal.String() != l.Journal {
				jr.Error = fmt.Sprintf("position of another journal, %v", m.Journal)
				break
			}
			jr.LagRecords, jr.LagBytes, err = lagAt(vol, m.Position)
			if err != nil {
				jr.Error = err.Error()
			}
		}
		l.Readers = append(l.Readers, jr)
	}
	return l, nil
}

// lagAt returns how far a reader at p is behind the writer.
func lagAt(vol *mmap.Volume, p journal.Position) (records, bytes uint64, err error) {
	lag, err := journal.LagAt(vol, p)
	return lag.Records, lag.Bytes, err
}

func newJournalPrune() *cobra.Command {
	var ret retentionFlags
	cmd := &cobra.Command{
		Use:     "prune [retention flags] DIR",
		Example: "  kekbit journal prune --max-segments 8 orders/\n  kekbit journal prune --max-age 24h --force orders/",
		Short:   "Remove a journal's old segments by a retention policy",
		Long: "prune removes the oldest segments of the journal in DIR that the policy\n" +
			"drops, never the last, and (without --force) none that a named reader in\n" +
			"DIR/readers has not passed. It prints \"removed segment N\" for each.",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			removed, err := journal.Prune(journalVolume(dir), journalPositions(dir), ret.r)
			for _, s := range removed {
				fmt.Fprintf(cmd.OutOrStdout(), "removed segment %d\n", s)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", dir, err)
			}
			return nil
		},
	}
	ret.add(cmd)
	return cmd
}
