package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/kekbit-go/kekbit"
	"github.com/kekbit-go/kekbit/bench"
)

func newBench() *cobra.Command {
	o := bench.Defaults
	var env envelopeFlag
	var asJSON, latency bool
	var plot string
	var warmup int
	cmd := &cobra.Command{
		Use:   "bench [--n N] [--size BYTES] [--readers R] [--runs K] [--root DIR] [--json] [--baseline] [--latency [--plot FILE]]",
		Short: "Measure a writer and readers across processes",
		Long: "bench creates a fresh channel, starts one writer process and R reader processes,\n" +
			"every reader checking every record's sequence number and length, and reports\n" +
			"records/s and MB/s for the writer and the slowest reader: cold (fresh channel,\n" +
			"page faults included, timed from create to the last record read) and warm\n" +
			"(channel pretouched before timing), median and range of K runs. --baseline\n" +
			"runs the same workload through a minimal loop on mmap and atomics without the\n" +
			"library. --latency measures request/reply round trips between two processes\n" +
			"through two channels with busy-spinning readers instead. It removes its\n" +
			"channels when done.",
		Example: "  kekbit bench --n 1000000 --size 64 --readers 2\n" +
			"  kekbit bench --envelope crc,seq --baseline --json\n" +
			"  kekbit bench --latency --plot rtt.svg",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			out := cmd.OutOrStdout()
			o.Envelope = env.env
			if latency {
				if !cmd.Flags().Changed("n") {
					o.N = 1_000_000
				}
				if !cmd.Flags().Changed("size") {
					o.Size = 16
				}
				rep, err := bench.Latency(ctx, bench.LatencyOptions{N: o.N, Warmup: warmup, Size: o.Size, Root: o.Root})
				if err != nil {
					return err
				}
				if plot != "" {
					if err := writeFile(plot, rep.WriteSVG); err != nil {
						return err
					}
				}
				if asJSON {
					return json.NewEncoder(out).Encode(rep)
				}
				rep.WriteText(out)
				return nil
			}
			if plot != "" {
				return usagef("--plot goes with --latency")
			}
			if f, ok := cmd.ErrOrStderr().(*os.File); ok && isTerminal(f) {
				o.Progress = f
			}
			rep, err := bench.Run(ctx, o)
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(out).Encode(rep)
			}
			rep.WriteText(out)
			return nil
		},
	}
	f := cmd.Flags()
	numberVar(f, &o.N, "n", o.N, "records per run (round trips with --latency, default 1000000)")
	numberVar(f, &o.Size, "size", o.Size, "payload bytes per record, at least 8 (16 with --latency)")
	numberVar(f, &o.Readers, "readers", o.Readers, "reader processes")
	numberVar(f, &o.Runs, "runs", o.Runs, "runs of each mode; the figures are medians")
	f.StringVar(&o.Root, "root", kekbit.DefaultRoot(), "folder for the benchmark's channels")
	f.BoolVar(&o.Baseline, "baseline", false, "also run the library-free baseline")
	f.DurationVar(&o.Pause, "pause", o.Pause, "how long idle readers wait between looks (0: pure busy spin)")
	numberVar(f, &o.Journal, "journal", 0, "also run the writer and readers through a journal of segments of this many bytes (e.g. 0x4000000 for 64 MiB), beside the warm channel")
	numberVar(f, &o.JournalKeep, "journal-keep", 0, "with --journal: retention keeps this many segments, and the writer recycles the files of those it drops into its next segments (0: no retention)")
	f.BoolVar(&o.ColdAhead, "cold-ahead", false, "the cold writer populates its fresh channel's pages in the background as it writes (mmap.WithPretouchAhead)")
	f.BoolVar(&o.JournalHist, "journal-hist", false, "with --journal: time every Write of the journal writer and print their histogram (a clock read each: the journal's rate is then not comparable)")
	f.DurationVar(&o.CoarseClock, "coarse-clock", 0, "with --envelope time: stamp records from a clock advanced every this often (at least 100µs) instead of reading the system clock per record")
	f.Var(&env, "envelope", "records carry these envelope fields: crc,seq,time (any subset), all or none")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	f.BoolVar(&latency, "latency", false, "measure request/reply round trips instead")
	numberVar(f, &warmup, "warmup", 10_000, "round trips before timing starts (with --latency)")
	f.StringVar(&plot, "plot", "", "write the round-trip distribution as an SVG plot (with --latency)")
	return cmd
}

// writeFile creates path and fills it with write.
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}
