package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kekbit-go/kekbit/domain"
)

func newVerify() *cobra.Command {
	var ch channelFlags
	cmd := &cobra.Command{
		Use:   "verify CHANNEL",
		Short: "Check every record of a channel; exit 1 at the first bad one",
		Long: "verify reads a channel from end to end and checks every record: on a channel\n" +
			"whose records carry an envelope (write --envelope), its CRC32C and sequence\n" +
			"number, and where the channel ends against its close trailer; on a format\n" +
			"1.0.0 channel only the framing (length words, the close mark).\n" +
			"\n" +
			"All good, it prints one line and exits 0:\n" +
			"  3 records verified, closed at 136; envelope crc,seq,time, seq 0..2, the close trailer agrees\n" +
			"  3 records verified, full at 16376; ...\n" +
			"  3 records verified up to 136, no close mark: the writer has not closed it (it is still writing); ...\n" +
			"  3 records verified, closed at 64; no envelope: framing checked only\n" +
			"A channel not closed yet (its writer at work, or gone) is not an error.\n" +
			"\n" +
			"At the first bad record, or a lost tail, it prints how many records were good\n" +
			"and which check failed (crc, seq, envelope, trailer; none for a broken\n" +
			"framing), then one line on stderr with the position and why, and exits 1:\n" +
			"  1 record verified, then corrupt at 48 (crc)\n" +
			"  kekbit: PATH: channel corrupt: the record at position 48 fails its CRC32C: want ..., got ...\n" +
			"A truncated channel (a file cut short) also exits 1.",
		Example: "  kekbit verify chan.kekbit\n" +
			"  kekbit verify --root /dev/shm/kekbit-$USER --channel 42 && echo intact",
		Args: oneChannel,
		RunE: func(cmd *cobra.Command, args []string) error {
			path, _, _, err := ch.resolve(args)
			if err != nil {
				return err
			}
			s, err := scan(path)
			if err != nil {
				return err
			}
			_, werr := fmt.Fprintln(cmd.OutOrStdout(), s.verdict())
			if errors.Is(s.End, domain.ErrCorrupt) || errors.Is(s.End, domain.ErrTruncated) {
				return fmt.Errorf("%s: %w", path, s.End)
			}
			if werr != nil {
				return outputError{werr}
			}
			return nil
		},
	}
	ch.add(cmd)
	return cmd
}

// verdict is verify's line for the channel s sums up.
func (s summary) verdict() string {
	line := records(s.Records) + " verified"
	switch {
	case errors.Is(s.End, domain.ErrCorrupt), errors.Is(s.End, domain.ErrTruncated):
		return fmt.Sprintf("%s, then %s at %d%s", line, endName(s.End), s.WriteOffset, checkSuffix(s.End))
	case errors.Is(s.End, domain.ErrClosed):
		line += fmt.Sprintf(", closed at %d", s.WriteOffset)
	case errors.Is(s.End, domain.ErrChannelFull):
		line += fmt.Sprintf(", full at %d", s.WriteOffset)
	default: // the watermark: nothing more written yet (or a timeout, a writer gone)
		who := "no writer holds it"
		if s.WriterAlive {
			who = "it is still writing"
		}
		line += fmt.Sprintf(" up to %d, no close mark: the writer has not closed it (%s)", s.WriteOffset, who)
	}
	env := s.Header.Envelope
	if env == 0 {
		return line + "; no envelope: framing checked only"
	}
	line += "; envelope " + env.String()
	if env.Has(domain.EnvelopeSeq) && s.Records > 0 {
		line += fmt.Sprintf(", seq %d..%d", s.FirstSeq, s.LastSeq)
	}
	ended := s.State == "closed" || s.State == "full"
	switch t := s.Trailer; {
	case t != nil && ended: // the reader checked it: it agrees
		line += ", the close trailer agrees"
	case t != nil:
		line += fmt.Sprintf(", a close trailer (closed at %d after %s) but no close mark", t.ClosedAt, records(int(t.Records)))
	case ended:
		line += ", no close trailer to check the end against"
	}
	return line
}

// records is "1 record" or "n records".
func records(n int) string {
	if n == 1 {
		return "1 record"
	}
	return fmt.Sprintf("%d records", n)
}
