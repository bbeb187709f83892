package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/kekbit-go/kekbit/domain"
)

// dumpRecord and dumpEnd are the JSON Lines `dump --json` prints. Seq and
// Time are there when the channel's envelope has them (and not with
// --raw); Check, Want and Got when an envelope check ended the read.
type dumpRecord struct {
	Pos  uint64  `json:"pos"`
	Len  int     `json:"len"`
	Seq  *uint64 `json:"seq,omitempty"`
	Time *uint64 `json:"time,omitempty"`
	Data []byte  `json:"data"`
}

type dumpEnd struct {
	End   string  `json:"end"`
	Pos   uint64  `json:"pos"`
	Check string  `json:"check,omitempty"`
	Want  *uint64 `json:"want,omitempty"`
	Got   *uint64 `json:"got,omitempty"`
}

func newDump() *cobra.Command {
	var ch channelFlags
	var asJSON, follow, raw, wait bool
	var from uint64
	cmd := &cobra.Command{
		Use:   "dump [--json] [--raw] [--from POS] [--follow [--wait]] CHANNEL",
		Short: "Print a channel's records",
		Long: "dump prints each record: its position, its length, then its payload as text\n" +
			"when it is valid UTF-8 (without control characters), else as hex; and last\n" +
			"where the read ended: \"end closed|full|watermark|abandoned|truncated|corrupt|\n" +
			"timeout at POS\": watermark when nothing more is written yet and the writer is\n" +
			"alive, abandoned (the word info uses) when the channel is not closed and no\n" +
			"writer holds it any more, timeout when the writer cannot be asked (a channel\n" +
			"the Rust crate wrote) and was silent for the header's timeout.\n" +
			"\n" +
			"On a channel whose records carry an envelope (write --envelope) it checks\n" +
			"every record (CRC32C, sequence number) and shows the user's payload without\n" +
			"the envelope: the columns are then \"pos len seq time data\", seq and time\n" +
			"only when the envelope has them, len the payload's length and time the\n" +
			"record's write time in UTC (RFC 3339). A record that fails a check ends the\n" +
			"read: \"end corrupt at POS (crc)\", the check being crc, seq, envelope (a\n" +
			"record shorter than its envelope) or trailer (the channel ends elsewhere, or\n" +
			"after another number of records, than its close trailer says).\n" +
			"\n" +
			"With --json it prints JSON Lines, {\"pos\":8,\"len\":5,\"data\":\"<base64>\"} per\n" +
			"record, with \"seq\" and \"time\" (ticks of the header's unit since the epoch)\n" +
			"after \"len\" on an enveloped channel, and a last {\"end\":\"closed\",\"pos\":N},\n" +
			"with \"check\", \"want\" and \"got\" when a check failed.\n" +
			"\n" +
			"With --raw it shows the records as stored, as the Rust crate reads them: it\n" +
			"ignores the header's extension block, so each payload starts with its\n" +
			"envelope, len counts the envelope too, and nothing is checked but the\n" +
			"framing (it also reads a channel whose extension block is damaged).\n" +
			"\n" +
			"With --follow it waits for new records until the channel ends, its writer\n" +
			"is gone, or it is interrupted (SIGINT, SIGTERM); with --wait too it first\n" +
			"waits for a channel that does not exist yet to be created. Without --follow,\n" +
			"and when standard error is a terminal, it shows its progress there: records\n" +
			"printed of the records the channel holds.\n" +
			"\n" +
			"It exits 1 if the channel is corrupt or truncated, or the output cannot be\n" +
			"written.",
		Example: "  kekbit dump chan.kekbit\n" +
			"  kekbit dump --json --root /dev/shm/kekbit-$USER --channel 42 > backup.jsonl\n" +
			"  kekbit dump --follow --wait --root /dev/shm/kekbit-$USER --channel 0x2a",
		Args: oneChannel,
		RunE: func(cmd *cobra.Command, args []string) error {
			path, _, _, err := ch.resolve(args)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			var r *domain.Reader
			if wait {
				r, err = waitReader(ctx, path, raw)
			} else {
				r, err = openReader(path, raw)
			}
			if err != nil {
				return err
			}
			defer r.Close()
			if from != 0 {
				if err := r.MoveTo(from); err != nil {
					return fmt.Errorf("%s: --from: %w", path, err)
				}
			}
			h := r.Header()
			hasSeq, hasTime := h.Envelope.Has(domain.EnvelopeSeq), h.Envelope.Has(domain.EnvelopeTime)
			out := bufio.NewWriterSize(cmd.OutOrStdout(), 64<<10)
			enc := json.NewEncoder(out)
			var prog *progress
			if !follow {
				prog = newProgress(cmd.ErrOrStderr(), "records", func() uint64 { return countRecords(path, raw, from) })
			}
			handler := func(rec domain.Record) error {
				pos, p := rec.Position, rec.Payload
				var err error
				if asJSON {
					err = enc.Encode(dumpRecord{Pos: pos, Len: len(p), Seq: optional(hasSeq, r.Seq()), Time: optional(hasTime, r.Time()), Data: p})
				} else {
					var env string // the envelope's columns
					if hasSeq {
						env += " " + strconv.FormatUint(r.Seq(), 10)
					}
					if hasTime {
						env += " " + formatTime(r.Time(), h.TickUnit)
					}
					_, err = fmt.Fprintf(out, "%d %d%s %s\n", pos, len(p), env, printable(p))
				}
				if err == nil && follow {
					err = out.Flush()
				}
				if err != nil {
					return outputError{err}
				}
				prog.update()
				return nil
			}
			var end error
			if follow {
				end = r.Follow(ctx, handler)
				if errors.Is(end, context.Canceled) {
					end = domain.ErrNothingYet // interrupted while waiting at the watermark
				}
			} else {
				_, end = r.Read(handler, 0)
			}
			prog.done()
			var werr error
			if isChannelEnd(end) || end == nil {
				word := dumpEndName(end, r)
				if asJSON {
					werr = enc.Encode(endLine(end, word, r.Position()))
				} else {
					_, werr = fmt.Fprintf(out, "end %s at %d%s\n", word, r.Position(), checkSuffix(end))
				}
			}
			if werr == nil {
				werr = out.Flush()
			}
			if end != nil && !isChannelEnd(end) { // an I/O error, or the output's
				return fmt.Errorf("%s: %w", path, end)
			}
			if werr != nil {
				return outputError{werr}
			}
			if errors.Is(end, domain.ErrCorrupt) || errors.Is(end, domain.ErrTruncated) {
				return fmt.Errorf("%s: %w", path, end)
			}
			return nil
		},
	}
	ch.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON Lines")
	cmd.Flags().BoolVar(&raw, "raw", false, "show the records as stored, envelope included and unchecked, as the Rust crate reads them")
	cmd.Flags().BoolVar(&follow, "follow", false, "wait for new records until the channel ends, its writer is gone, or Ctrl-C")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for the channel to be created if it does not exist yet (until Ctrl-C)")
	numberVar(cmd.Flags(), &from, "from", 0, "start at this record position")
	return cmd
}

// optional returns &v if has, else nil (a JSON field left out).
func optional(has bool, v uint64) *uint64 {
	if !has {
		return nil
	}
	return &v
}

// dumpEndName is the word of dump's end line for a read of r that ended
// with end: endName's, but abandoned, as info says, where the read stopped
// at the watermark of a channel no writer holds any more.
func dumpEndName(end error, r *domain.Reader) string {
	if errors.Is(end, domain.ErrWriterGone) {
		return "abandoned"
	}
	if end == nil || errors.Is(end, domain.ErrNothingYet) {
		if alive, _ := r.WriterAlive(); !alive { // as scan and stateOf
			return "abandoned"
		}
	}
	return endName(end)
}

// endLine is dump --json's last line for a read that ended with end, named
// word, at pos.
func endLine(end error, word string, pos uint64) dumpEnd {
	d := dumpEnd{End: word, Pos: pos}
	if re := checkFailed(end); re != nil {
		d.Check, d.Want, d.Got = re.Check, &re.Want, &re.Got
	}
	return d
}

// checkFailed returns the *ReadError of an envelope or trailer check that
// ended a read, or nil.
func checkFailed(end error) *domain.ReadError {
	var re *domain.ReadError
	if errors.As(end, &re) && re.Check != "" {
		return re
	}
	return nil
}

// checkSuffix is " (crc)" for a read ended by the crc check, else "".
func checkSuffix(end error) string {
	if re := checkFailed(end); re != nil {
		return " (" + re.Check + ")"
	}
	return ""
}

// printable returns p as text if it is valid UTF-8 without control
// characters, else as hex.
func printable(p []byte) string {
	if utf8.Valid(p) {
		ok := true
		for _, r := range string(p) {
			if unicode.IsControl(r) {
				ok = false
				break
			}
		}
		if ok {
			return string(p)
		}
	}
	return hex.EncodeToString(p)
}
