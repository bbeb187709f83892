package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kekbit-go/kekbit/adapters/mmap"
)

// infoJSON is the object `info --json` prints.
type infoJSON struct {
	Path         string `json:"path"`
	Version      string `json:"version"`
	WriterID     uint64 `json:"writer_id"`
	ChannelID    uint64 `json:"channel_id"`
	Capacity     uint32 `json:"capacity"`
	MaxMsgLen    uint32 `json:"max_msg_len"`
	Timeout      uint64 `json:"timeout"`
	TickUnit     string `json:"tick_unit"`
	CreationTime uint64 `json:"creation_time"`
	WriteOffset  uint64 `json:"write_offset"`
	Records      int    `json:"records"`
	Heartbeats   int    `json:"heartbeats"`
	State        string `json:"state"`
	WriterAlive  bool   `json:"writer_alive"`

	Envelope   string        `json:"envelope"`               // "crc,seq,time", or "none"
	Multi      bool          `json:"multi_writer,omitempty"` // a channel of many writers (records count void ones)
	MaxPayload uint32        `json:"max_payload"`            // the longest user payload: max_msg_len less the envelope
	SeqBase    *uint64       `json:"seq_base,omitempty"`     // on an enveloped channel
	Trailer    *closeTrailer `json:"trailer,omitempty"`      // the close trailer of an enveloped channel, if any
	Problem    string        `json:"problem,omitempty"`      // why a corrupt or truncated channel's read ended
	Warning    string        `json:"warning,omitempty"`      // the header names another channel id than the path
}

func (s summary) json() infoJSON {
	h := s.Header
	return infoJSON{
		Path: s.Path, Version: h.Version.String(), WriterID: h.WriterID, ChannelID: h.ChannelID,
		Capacity: h.Capacity, MaxMsgLen: h.MaxMsgLen, Timeout: h.Timeout, TickUnit: h.TickUnit.String(),
		CreationTime: h.CreationTime, WriteOffset: s.WriteOffset, Records: s.Records, Heartbeats: s.Heartbeats,
		State: s.State, WriterAlive: s.WriterAlive,
		Envelope: h.Envelope.String(), MaxPayload: h.MaxPayload(), SeqBase: optional(h.Envelope != 0, h.SeqBase),
		Trailer: s.Trailer, Problem: s.problem(), Warning: s.Warning, Multi: h.MultiWriter,
	}
}

// problem is why the read of a corrupt or truncated channel ended, or "".
func (s summary) problem() string {
	if s.State == "corrupt" || s.State == "truncated" {
		return strings.TrimPrefix(s.End.Error(), "kekbit: ")
	}
	return ""
}

// trailerLine says what an enveloped channel's close trailer says against
// what the read found.
func (s summary) trailerLine() string {
	t := s.Trailer
	switch {
	case t == nil && s.State == "closed":
		return "none: closed without one"
	case t == nil:
		return "none (its writer writes it at close)"
	case t.ClosedAt == s.WriteOffset && t.Records == uint64(s.Records):
		return fmt.Sprintf("closed at %d after %d records: the read agrees", t.ClosedAt, t.Records)
	}
	return fmt.Sprintf("closed at %d after %d records: the read found %d good records and ended at %d", t.ClosedAt, t.Records, s.Records, s.WriteOffset)
}

func newInfo() *cobra.Command {
	var ch channelFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "info [--json] CHANNEL",
		Short: "Show a channel's header, write position, record counts and state",
		Long: "info reads a channel from end to end and shows its header fields, the write\n" +
			"position, how many records and heartbeats it holds, its state (open, closed,\n" +
			"full, abandoned = not closed and no live writer, corrupt, truncated) and\n" +
			"whether a writer holds it; for a corrupt or truncated channel, why.\n" +
			"\n" +
			"It shows the envelope every record carries (crc, seq, time; none for a\n" +
			"format 1.0.0 channel) and, for an enveloped channel, the sequence number of\n" +
			"the first record (seq base), the longest user payload (max record less the\n" +
			"envelope) and the close trailer: where the writer closed the channel and\n" +
			"after how many records, against what the read found. Every record of an\n" +
			"enveloped channel is checked; the counts are of the good ones before the\n" +
			"first bad one.\n" +
			"\n" +
			"When the path names another channel id (ROOT/HHHH_HHHH/LLLL_LLLL.kekbit) than\n" +
			"the file's header, it warns: on stderr, in a \"warning\" row (a \"warning\" key\n" +
			"with --json). A channel still being created, or left by a creator that died\n" +
			"before it was ready (its lock file is there), is an error that says which.",
		Example: "  kekbit info chan.kekbit\n" +
			"  kekbit info --json --root /dev/shm/kekbit-$USER --channel 42",
		Args: oneChannel,
		RunE: func(cmd *cobra.Command, args []string) error {
			path, id, known, err := ch.resolve(args)
			if err != nil {
				return err
			}
			s, err := scan(path)
			if err != nil {
				if _, lerr := os.Stat(mmap.LockPath(path)); lerr == nil {
					return pendingError(path)
				}
				return err
			}
			if known && s.Header.ChannelID != id {
				s.Warning = fmt.Sprintf("the header names channel %d (%#x), the path channel %d (%#x): a file copied or renamed to another id", s.Header.ChannelID, s.Header.ChannelID, id, id)
				fmt.Fprintf(cmd.ErrOrStderr(), "kekbit: warning: %s: %s\n", path, s.Warning)
			}
			if asJSON {
				err = json.NewEncoder(cmd.OutOrStdout()).Encode(s.json())
			} else {
				err = printInfo(cmd.OutOrStdout(), s)
			}
			if err != nil {
				return outputError{err}
			}
			return nil
		},
	}
	ch.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

func printInfo(w io.Writer, s summary) error {
	h := s.Header
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := printer{w: tw}
	p.printf("path\t%s\n", s.Path)
	p.printf("version\t%s\n", h.Version)
	p.printf("writer id\t%d (%#x)\n", h.WriterID, h.WriterID)
	p.printf("channel id\t%d (%#x)\n", h.ChannelID, h.ChannelID)
	p.printf("capacity\t%d bytes\n", h.Capacity)
	p.printf("max record\t%d bytes\n", h.MaxMsgLen)
	if h.Envelope == 0 {
		p.printf("envelope\tnone\n")
	} else {
		p.printf("envelope\t%s (%d bytes per record)\n", h.Envelope, h.Envelope.Len())
		p.printf("seq base\t%d\n", h.SeqBase)
		p.printf("max payload\t%d bytes\n", h.MaxPayload())
	}
	if h.MultiWriter {
		p.printf("writers\tmany (a multi-writer channel; records count void ones)\n")
	}
	p.printf("timeout\t%d %s (%v)\n", h.Timeout, h.TickUnit, h.TimeoutDuration())
	p.printf("created\t%s (%d %s)\n", h.Created().UTC().Format("2006-01-02 15:04:05.000000000 UTC"), h.CreationTime, h.TickUnit)
	p.printf("write offset\t%d (%.1f%% full)\n", s.WriteOffset, 100*float64(s.WriteOffset)/float64(h.Capacity))
	p.printf("records\t%d\n", s.Records)
	p.printf("heartbeats\t%d\n", s.Heartbeats)
	p.printf("state\t%s\n", s.State)
	if msg := s.problem(); msg != "" {
		p.printf("problem\t%s\n", msg)
	}
	if h.Envelope != 0 {
		p.printf("trailer\t%s\n", s.trailerLine())
	}
	p.printf("writer alive\t%v\n", s.WriterAlive)
	if s.Warning != "" {
		p.printf("warning\t%s\n", s.Warning)
	}
	if p.err != nil {
		return p.err
	}
	return tw.Flush()
}

// printer writes formatted output and keeps the first error, after which
// it writes nothing.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) printf(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

// lsJSON is one channel in `ls --json`.
type lsJSON struct {
	ChannelID uint64  `json:"channel_id"`
	Path      string  `json:"path"`
	Capacity  uint32  `json:"capacity"`
	Written   uint64  `json:"write_offset"`
	Fill      float64 `json:"fill"`
	Records   int     `json:"records"`
	State     string  `json:"state"`
	Error     string  `json:"error,omitempty"`
}

func newLs() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "ls [--json] ROOT",
		Short: "List the channels under a root folder with their size, fill level and state",
		Long: "ls lists the channels under ROOT (ROOT/HHHH_HHHH/LLLL_LLLL.kekbit), each read\n" +
			"from end to end as info reads it: its id, capacity, how full it is, how many\n" +
			"records it holds, its state and its path. The state is one of info's (open,\n" +
			"closed, full, abandoned, corrupt, truncated), unreadable for a file that is\n" +
			"not a channel (--json says why), or, for an id whose lock file is still there:\n" +
			"creating while its creator is at work, abandoned-create when the creator died\n" +
			"before the channel was ready (kekbit rm removes what it left). A ROOT that\n" +
			"does not exist or is not a folder is an error (exit 1).",
		Example: "  kekbit ls /dev/shm/kekbit-$USER\n" +
			"  kekbit ls --json /dev/shm/kekbit-$USER | jq '.[] | select(.state == \"abandoned\")'",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			root := args[0]
			if fi, err := os.Stat(root); err != nil {
				var pe *fs.PathError
				if errors.As(err, &pe) {
					err = pe.Err // the path is said once
				}
				return fmt.Errorf("%s: %w", root, err)
			} else if !fi.IsDir() {
				return fmt.Errorf("%s: not a folder", root)
			}
			vol := mmap.NewVolume(root)
			entries, err := vol.States() // the library's listing: every id, with what its files and locks say
			if err != nil {
				return fmt.Errorf("%s: %w", root, err)
			}
			var out []lsJSON
			for _, en := range entries {
				e := lsJSON{ChannelID: en.ID, Path: en.Path}
				switch en.State {
				case mmap.StateCreating, mmap.StateAbandonedCreate:
					e.State = en.State.String()
				case mmap.StateInvalid:
					e.State, e.Error = "unreadable", firstLine(en.Err.Error())
				default:
					if s, err := scan(e.Path); err != nil {
						e.State, e.Error = "unreadable", err.Error()
					} else {
						e.Capacity, e.Written, e.Records, e.State = s.Header.Capacity, s.WriteOffset, s.Records, s.State
						e.Fill = float64(s.WriteOffset) / float64(s.Header.Capacity)
					}
				}
				out = append(out, e)
			}
			slices.SortFunc(out, func(a, b lsJSON) int { return cmp.Compare(a.ChannelID, b.ChannelID) })
			if asJSON {
				if out == nil {
					out = []lsJSON{}
				}
				if err := json.NewEncoder(cmd.OutOrStdout()).Encode(out); err != nil {
					return outputError{err}
				}
				return nil
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			p := printer{w: tw}
			p.printf("CHANNEL\tCAPACITY\tFILL\tRECORDS\tSTATE\tPATH\n")
			for _, e := range out {
				p.printf("%#x\t%d\t%.1f%%\t%d\t%s\t%s\n", e.ChannelID, e.Capacity, 100*e.Fill, e.Records, e.State, e.Path)
			}
			if p.err == nil {
				p.err = tw.Flush()
			}
			if p.err != nil {
				return outputError{p.err}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	return cmd
}

// pendingState names the state of the channel at path, whose lock file is
// there: creating while its creator is at work, abandoned-create when the
// creator died before the channel was ready. The creator holds the writer's
// lock on the channel file from the moment it makes it, so the library's
// probe of that lock tells; before the file is made (an instant, or a
// creator that died right there) only the lock file's own lock could, and
// the library offers no probe of it: such an id shows as creating, and
// rm (kekbit.RemoveAbandoned, which takes that lock) tells for sure.
func pendingState(path string) string {
	st, err := mmap.OpenFile(path)
	if err != nil {
		return "creating"
	}
	defer st.Close()
	if alive, err := st.WriterAlive(); err == nil && !alive {
		return "abandoned-create"
	}
	return "creating"
}

// pendingError is the error of info on the channel at path, whose lock
// file is there: it is being created, or its creator died.
func pendingError(path string) error {
	if pendingState(path) == "abandoned-create" {
		return fmt.Errorf("%s: abandoned-create: its creator died before the channel was ready (kekbit rm removes what it left)", path)
	}
	return fmt.Errorf("%s: creating: its creator is still making it (its lock file is there)", path)
}
