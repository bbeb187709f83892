package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/inspect"
	"github.com/kekbit-go/kekbit/kekbitprom"
)

// minStatInterval is the shortest --interval.
const minStatInterval = 10 * time.Millisecond

func newStat() *cobra.Command {
	var once, asJSON, shared bool
	var interval, until time.Duration
	var listen, plot string
	cmd := &cobra.Command{
		Use:   "stat [--once] [--json] [--interval D] [--for D] [--listen ADDR] [--plot FILE.svg] ROOT",
		Short: "Show what every channel, journal and named reader under a root is doing, live",
		Long: "stat shows every channel under ROOT (its state, writer, fill, records, and\n" +
			"records and bytes per second over the last interval), every journal under it\n" +
			"(in ROOT itself or in a subfolder made by `kekbit journal write`) and each of\n" +
			"its named readers' lag behind the writer, in records and bytes. It reads\n" +
			"headers and positions only (package inspect): a channel with an envelope\n" +
			"costs a walk of the records written since its writer's progress mark (at\n" +
			"most 1,024 as this library's writers keep it), a plain one a walk of its\n" +
			"length words; no payload is read.\n" +
			"\n" +
			"On a terminal it redraws a table every --interval, like top, until Ctrl-C\n" +
			"or --for; off a terminal, or with --json, it prints one JSON object per\n" +
			"interval instead; --once prints one snapshot (a table, or JSON with --json)\n" +
			"and exits. With --listen ADDR it also serves the snapshot as Prometheus\n" +
			"metrics at http://ADDR/metrics (package kekbitprom names them). With\n" +
			"--plot FILE.svg it draws, when it stops, the records per second of every\n" +
			"channel and journal and the lag of every named reader over the time it\n" +
			"ran, as an SVG figure.",
		Example: "  kekbit stat /dev/shm/kekbit-$USER\n" +
			"  kekbit stat --once --json /dev/shm/kekbit-$USER | jq '.channels[] | select(.state == \"abandoned\")'\n" +
			"  kekbit stat --listen :9464 --json /dev/shm/kekbit-$USER > /dev/null\n" +
			"  kekbit stat --plot rates.svg --for 60s --json /dev/shm/kekbit-$USER > /dev/null",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			root := args[0]
			if plot != "" && once {
				return usagef("--plot %s: needs more than one snapshot: drop --once (and give --for)", plot)
			}
			if interval < minStatInterval {
				return usagef("--interval %v: shorter than %v", interval, minStatInterval)
			}
			if fi, err := os.Stat(root); err != nil {
				var pe *os.PathError
				if errors.As(err, &pe) {
					err = pe.Err
				}
				return fmt.Errorf("%s: %w", root, err)
			} else if !fi.IsDir() {
				return fmt.Errorf("%s: not a folder", root)
			}
			var opts []mmap.VolumeOption
			if shared {
				opts = append(opts, mmap.WithSharedRoot())
			}
			out := cmd.OutOrStdout()
			if once {
				s, err := inspect.Inspect(root, opts...)
				if err != nil {
					return err
				}
				if asJSON {
					return writeStatJSON(out, s)
				}
				return writeStatTable(out, s)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if until > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, until)
				defer cancel()
			}
			if listen != "" {
				ln, err := net.Listen("tcp", listen)
				if err != nil {
					return fmt.Errorf("--listen %s: %w", listen, err)
				}
				reg := prometheus.NewRegistry()
				reg.MustRegister(kekbitprom.NewCollector(root, opts...))
				srv := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 10 * time.Second}
				errOut := cmd.ErrOrStderr()
				go func() {
					if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
						fmt.Fprintf(errOut, "kekbit: serving metrics at %s stopped: %v\n", ln.Addr(), err)
					}
				}()
				defer srv.Close()
				fmt.Fprintf(cmd.ErrOrStderr(), "serving metrics at http://%s/metrics\n", ln.Addr())
			}
			redraw := !asJSON && writesToTerminal(out)
			var fig *statPlot
			if plot != "" {
				fig = newStatPlot()
			}
			if err := statLoop(ctx, out, root, opts, interval, redraw, fig); err != nil {
				return err
			}
			if fig == nil {
				return nil
			}
			return writeFile(plot, func(w io.Writer) error { return fig.write(w, root) })
		},
	}
	cmd.Flags().BoolVar(&once, "once", false, "print one snapshot and exit")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON: one object per interval (or one with --once)")
	cmd.Flags().DurationVar(&interval, "interval", time.Second, "time between snapshots (10ms at least)")
	cmd.Flags().DurationVar(&until, "for", 0, "stop after this long (0: at Ctrl-C)")
	cmd.Flags().StringVar(&listen, "listen", "", "also serve Prometheus metrics at http://ADDR/metrics (e.g. :9464)")
	cmd.Flags().StringVar(&plot, "plot", "", "when it stops, draw the rates and lags over the time it ran into this SVG file")
	cmd.Flags().BoolVar(&shared, "shared-root", false, "accept a root its group may write (as mmap.WithSharedRoot)")
	return cmd
}

// statLoop takes a snapshot every interval until ctx ends, and redraws the
// table (redraw) or prints a JSON line.
func statLoop(ctx context.Context, out io.Writer, root string, opts []mmap.VolumeOption, interval time.Duration, redraw bool, fig *statPlot) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	var prev *inspect.Snapshot
	for {
		s, err := inspect.Inspect(root, opts...)
		if err != nil {
			return err
		}
		s.Since(prev)
		prev = s
		if fig != nil {
			fig.add(s)
		}
		if redraw {
			if _, err := io.WriteString(out, "\x1b[H\x1b[2J"); err != nil {
				return outputError{err}
			}
			if err := writeStatTable(out, s); err != nil {
				return err
			}
		} else if err := writeStatJSON(out, s); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// statJSON is the object stat prints as JSON.
type statJSON struct {
	Root     string            `json:"root"`
	Time     string            `json:"time"`
	Channels []statChannelJSON `json:"channels"`
	Journals []statJournalJSON `json:"journals"`
}

type statChannelJSON struct {
	ID            uint64  `json:"channel_id"`
	Path          string  `json:"path"`
	State         string  `json:"state"`
	Writer        string  `json:"writer"`
	Capacity      uint64  `json:"capacity"`
	Written       uint64  `json:"written"`
	Records       uint64  `json:"records"`
	Fill          float64 `json:"fill"`
	Envelope      string  `json:"envelope,omitempty"`
	Journal       string  `json:"journal_id,omitempty"`
	Segment       uint64  `json:"segment,omitempty"`
	RecordsPerSec float64 `json:"records_per_sec"`
	BytesPerSec   float64 `json:"bytes_per_sec"`
	Error         string  `json:"error,omitempty"`
}

type statJournalJSON struct {
	Dir           string           `json:"dir"`
	ID            string           `json:"journal_id"`
	Segments      int              `json:"segments"`
	Records       uint64           `json:"records"`
	NextSeq       uint64           `json:"next_seq"`
	State         string           `json:"state"`
	Writer        string           `json:"writer"`
	RecordsPerSec float64          `json:"records_per_sec"`
	BytesPerSec   float64          `json:"bytes_per_sec"`
	Readers       []statReaderJSON `json:"readers"`
}

type statReaderJSON struct {
	Name       string `json:"name"`
	Position   string `json:"position"`
	LagRecords uint64 `json:"lag_records"`
	LagBytes   uint64 `json:"lag_bytes"`
	Error      string `json:"error,omitempty"`
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func writeStatJSON(out io.Writer, s *inspect.Snapshot) error {
	j := statJSON{Root: s.Root, Time: s.Taken.UTC().Format(time.RFC3339Nano), Channels: []statChannelJSON{}, Journals: []statJournalJSON{}}
	for _, c := range s.Channels {
		j.Channels = append(j.Channels, statChannelJSON{ID: c.ID, Path: c.Path, State: c.State, Writer: c.Writer,
			Capacity: c.Capacity, Written: c.Written, Records: c.Records, Fill: c.Fill(), Envelope: c.Envelope,
			Journal: c.Journal, Segment: c.Segment, RecordsPerSec: c.RecordsPerSec, BytesPerSec: c.BytesPerSec, Error: errString(c.Err)})
	}
	for _, x := range s.Journals {
		jj := statJournalJSON{Dir: x.Dir, ID: x.ID, Segments: len(x.Segments), Records: x.Records, NextSeq: x.NextSeq,
			State: x.State, Writer: x.Writer, RecordsPerSec: x.RecordsPerSec, BytesPerSec: x.BytesPerSec, Readers: []statReaderJSON{}}
		for _, r := range x.Readers {
			jj.Readers = append(jj.Readers, statReaderJSON{Name: r.Name, Position: r.Position.String(), LagRecords: r.LagRecords, LagBytes: r.LagBytes, Error: errString(r.Err)})
		}
		j.Journals = append(j.Journals, jj)
	}
	b, err := json.Marshal(j)
	if err != nil {
		return err
	}
	if _, err := out.Write(append(b, '\n')); err != nil {
		return outputError{err}
	}
	return nil
}

// rate prints a per-second rate with an SI suffix.
func rate(v float64) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.1fG", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.1fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func writeStatTable(out io.Writer, s *inspect.Snapshot) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "kekbit stat %s  %s\n\n", s.Root, s.Taken.Format("15:04:05"))
	fmt.Fprintln(tw, "CHANNEL\tSTATE\tWRITER\tFILL\tRECORDS\tREC/S\tBYTES/S\tPATH")
	var problems []string
	for _, c := range s.Channels {
		path, _ := filepath.Rel(s.Root, c.Path)
		if c.Err != nil {
			problems = append(problems, fmt.Sprintf("%#x\t%s", c.ID, firstLine(c.Err.Error())))
		}
		fmt.Fprintf(tw, "%#x\t%s\t%s\t%.1f%%\t%d\t%s\t%s\t%s\n", c.ID, c.State, c.Writer, 100*c.Fill(), c.Records, rate(c.RecordsPerSec), rate(c.BytesPerSec), path)
	}
	if len(s.Journals) > 0 {
		fmt.Fprintln(tw, "\nJOURNAL\tSTATE\tWRITER\tSEGMENTS\tNEXT SEQ\tREC/S\tBYTES/S\tDIR")
		for _, j := range s.Journals {
			dir, _ := filepath.Rel(s.Root, j.Dir)
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n", j.ID[:8], j.State, j.Writer, len(j.Segments), j.NextSeq, rate(j.RecordsPerSec), rate(j.BytesPerSec), dir)
		}
		fmt.Fprintln(tw, "\nREADER\tJOURNAL\tPOSITION\tLAG RECORDS\tLAG BYTES")
		for _, j := range s.Journals {
			for _, r := range j.Readers {
				if r.Err != nil {
					fmt.Fprintf(tw, "%s\t%s\t-\t%s\t\n", r.Name, j.ID[:8], firstLine(r.Err.Error()))
					continue
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\n", r.Name, j.ID[:8], r.Position, r.LagRecords, r.LagBytes)
			}
		}
	}
	if len(problems) > 0 {
		fmt.Fprintln(tw, "\nCHANNEL\tPROBLEM")
		for _, p := range problems {
			fmt.Fprintln(tw, p)
		}
	}
	if err := tw.Flush(); err != nil {
		return outputError{err}
	}
	return nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimPrefix(s, "kekbit: ")
}

// writesToTerminal reports whether out, the command's output, is a
// terminal.
func writesToTerminal(out io.Writer) bool {
	if c, ok := out.(*checkedWriter); ok {
		out = c.w
	}
	f, ok := out.(*os.File)
	return ok && isTerminal(f)
}
