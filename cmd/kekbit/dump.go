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
	"syscall"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/kekbit-go/kekbit/domain"
)

// dumpRecord and dumpEnd are the JSON Lines `dump --json` prints.
type dumpRecord struct {
	Pos  uint64 `json:"pos"`
	Len  int    `json:"len"`
	Data []byte `json:"data"`
}

type dumpEnd struct {
	End string `json:"end"`
	Pos uint64 `json:"pos"`
}

func newDump() *cobra.Command {
	var ch channelFlags
	var asJSON, follow bool
	var from uint64
	cmd := &cobra.Command{
		Use:   "dump [--json] [--from POS] [--follow] CHANNEL",
		Short: "Print a channel's records",
		Long: "dump prints each record: its position, its length, then its payload as text\n" +
			"when it is valid UTF-8 (without control characters), else as hex. With --json\n" +
			"it prints JSON Lines, {\"pos\":8,\"len\":5,\"data\":\"<base64>\"} per record and a\n" +
			"last {\"end\":\"closed|full|watermark|truncated|corrupt|timeout|writer-gone\",\"pos\":N}.\n" +
			"With --follow it waits for new records until the channel ends or it is\n" +
			"interrupted. It exits 1 if the channel is corrupt or truncated.",
		Args: oneChannel,
		RunE: func(cmd *cobra.Command, args []string) error {
			path, _, _, err := ch.resolve(args)
			if err != nil {
				return err
			}
			r, err := openReader(path)
			if err != nil {
				return err
			}
			defer r.Close()
			if from != 0 {
				if err := r.MoveTo(from); err != nil {
					return fmt.Errorf("%s: --from: %w", path, err)
				}
			}
			out := bufio.NewWriterSize(cmd.OutOrStdout(), 64<<10)
			defer out.Flush()
			enc := json.NewEncoder(out)
			prog := newProgress(cmd.ErrOrStderr(), "records", uint64(r.Header().Capacity))
			count := 0
			handler := func(rec domain.Record) error {
				pos, p := rec.Position, rec.Payload
				if asJSON {
					enc.Encode(dumpRecord{Pos: pos, Len: len(p), Data: p})
				} else {
					fmt.Fprintf(out, "%d %d %s\n", pos, len(p), printable(p))
				}
				count++
				if follow {
					out.Flush()
				} else {
					prog.update(count, pos)
				}
				return nil
			}
			var end error
			if follow {
				ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
				defer stop()
				end = r.Follow(ctx, handler)
				if errors.Is(end, context.Canceled) {
					end = domain.ErrNothingYet // interrupted while waiting at the watermark
				}
			} else {
				_, end = r.Read(handler, 0)
			}
			prog.done()
			if end != nil && !isChannelEnd(end) {
				return fmt.Errorf("%s: %w", path, end)
			}
			if asJSON {
				enc.Encode(dumpEnd{End: endName(end), Pos: r.Position()})
			} else {
				fmt.Fprintf(out, "end %s at %d\n", endName(end), r.Position())
			}
			if errors.Is(end, domain.ErrCorrupt) || errors.Is(end, domain.ErrTruncated) {
				out.Flush()
				return fmt.Errorf("%s: %w", path, end)
			}
			return nil
		},
	}
	ch.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON Lines")
	cmd.Flags().BoolVar(&follow, "follow", false, "wait for new records until the channel ends or Ctrl-C")
	cmd.Flags().Uint64Var(&from, "from", 0, "start at this record position")
	return cmd
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
