package main

import (
	"encoding/json"
	"fmt"
	"io"
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
}

func (s summary) json() infoJSON {
	h := s.Header
	return infoJSON{
		Path: s.Path, Version: h.Version.String(), WriterID: h.WriterID, ChannelID: h.ChannelID,
		Capacity: h.Capacity, MaxMsgLen: h.MaxMsgLen, Timeout: h.Timeout, TickUnit: h.TickUnit.String(),
		CreationTime: h.CreationTime, WriteOffset: s.WriteOffset, Records: s.Records, Heartbeats: s.Heartbeats,
		State: s.State, WriterAlive: s.WriterAlive,
	}
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
			"whether a writer holds it.",
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
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(s.json())
			}
			printInfo(cmd.OutOrStdout(), s)
			return nil
		},
	}
	ch.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

func printInfo(w io.Writer, s summary) {
	h := s.Header
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "path\t%s\n", s.Path)
	fmt.Fprintf(tw, "version\t%s\n", h.Version)
	fmt.Fprintf(tw, "writer id\t%d (%#x)\n", h.WriterID, h.WriterID)
	fmt.Fprintf(tw, "channel id\t%d (%#x)\n", h.ChannelID, h.ChannelID)
	fmt.Fprintf(tw, "capacity\t%d bytes\n", h.Capacity)
	fmt.Fprintf(tw, "max record\t%d bytes\n", h.MaxMsgLen)
	fmt.Fprintf(tw, "timeout\t%d %s (%v)\n", h.Timeout, h.TickUnit, h.TimeoutDuration())
	fmt.Fprintf(tw, "created\t%s (%d %s)\n", h.Created().UTC().Format("2006-01-02 15:04:05.000000000 UTC"), h.CreationTime, h.TickUnit)
	fmt.Fprintf(tw, "write offset\t%d (%.1f%% full)\n", s.WriteOffset, 100*float64(s.WriteOffset)/float64(h.Capacity))
	fmt.Fprintf(tw, "records\t%d\n", s.Records)
	fmt.Fprintf(tw, "heartbeats\t%d\n", s.Heartbeats)
	fmt.Fprintf(tw, "state\t%s\n", s.State)
	fmt.Fprintf(tw, "writer alive\t%v\n", s.WriterAlive)
	tw.Flush()
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
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			vol := mmap.NewVolume(args[0])
			ids, err := vol.List()
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			var out []lsJSON
			for _, id := range ids {
				e := lsJSON{ChannelID: id, Path: vol.Path(id)}
				if s, err := scan(e.Path); err != nil {
					e.State, e.Error = "unreadable", err.Error()
				} else {
					e.Capacity, e.Written, e.Records, e.State = s.Header.Capacity, s.WriteOffset, s.Records, s.State
					e.Fill = float64(s.WriteOffset) / float64(s.Header.Capacity)
				}
				out = append(out, e)
			}
			if asJSON {
				if out == nil {
					out = []lsJSON{}
				}
				return json.NewEncoder(cmd.OutOrStdout()).Encode(out)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "CHANNEL\tCAPACITY\tFILL\tRECORDS\tSTATE\tPATH")
			for _, e := range out {
				fmt.Fprintf(tw, "%#x\t%d\t%.1f%%\t%d\t%s\t%s\n", e.ChannelID, e.Capacity, 100*e.Fill, e.Records, e.State, e.Path)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	return cmd
}
