// Package bench measures kekbit across processes: one writer process and R
// reader processes on a fresh channel in shared memory, every reader
// checking every record; and, in latency mode, request/reply round trips
// between two processes through two channels.
//
// The benchmark re-executes its own program for the writer and readers, so
// a program that calls Run or Latency must call RunWorker first thing in
// main (the kekbit command does; `kekbit bench` is this package).
package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/kekbit-go/kekbit/domain"
)

// Options say what to measure.
type Options struct {
	N        int    // records per run
	Size     int    // payload bytes per record, at least 8 (the sequence number)
	Readers  int    // reader processes
	Runs     int    // runs of each mode; figures are medians
	Root     string // folder for the channels; a fresh subfolder is used and removed
	Baseline bool   // also run the library-free baseline
	// Pause is how long an idle reader waits between looks at the channel
	// (domain.Wait.Pause), the baseline's readers too: 0 is a pure busy
	// spin, the lowest latency; a microsecond or two leaves the writer's
	// cache lines alone and gives the highest rate.
	Pause time.Duration
	// Envelope: every record carries these envelope fields (CRC32C,
	// sequence number, time), written and verified by the library; the
	// baseline has none.
	Envelope domain.Envelope
	// Journal, if not 0, also runs the writer and readers through a
	// journal (package journal) of segments of this capacity, pretouched
	// ahead of need by the journal writer, beside the warm channel.
	Journal uint32
	// CoarseClock, if not 0, stamps an envelope's times from a coarse
	// clock of this resolution (domain.WithCoarseClock) instead of
	// time.Now per record.
	CoarseClock time.Duration
	// JournalKeep, if not 0, gives the journal a retention of this many
	// segments, whose dropped segments' files it recycles
	// (journal.WithRecycle).
	JournalKeep int
	// ColdAhead makes the cold mode's writer populate its fresh channel's
	// pages in the background as it goes (mmap.WithPretouchAhead).
	ColdAhead bool
	// JournalHist times every Write of the journal writer (a clock read
	// each: its rate is then not comparable) into Report.JournalHist.
	JournalHist bool
	Progress    io.Writer // if not nil, one line per run
}

// Defaults are the options of `kekbit bench` without flags.
var Defaults = Options{N: 1_000_000, Size: 72, Readers: 1, Runs: 3, Pause: domain.Streaming.Pause}

// Figure is a rate in records per second over the runs.
type Figure struct {
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	Runs   []float64 `json:"runs"`
}

// Mode is what one mode measured: the writer's rate and the slowest
// reader's, each end to end.
type Mode struct {
	Writer Figure `json:"writer"`
	Reader Figure `json:"reader"`
}

// Report is the outcome of Run.
type Report struct {
	Options  Options
	Cold     Mode  // fresh channel, page faults included, timed from create
	Warm     Mode  // channel pretouched by writer and readers before timing
	Baseline *Mode // the same as Warm without the library
	Journal  *Mode // through a journal of Options.Journal-byte segments, rolls included
	// JournalRolls and JournalRecycled count the journal writer's rolls
	// over all runs, and those into a recycled segment (JournalKeep).
	JournalRolls, JournalRecycled int
	// JournalHist counts the journal writer's Writes by their time, over
	// all runs (Options.JournalHist): element k those of 2^(k-1)..2^k-1 ns.
	JournalHist []uint64
}

// MarshalJSON prints the report for machines: medians in records per
// second, reader_rps the slowest reader's.
func (r Report) MarshalJSON() ([]byte, error) {
	type rates struct {
		WriterRPS float64 `json:"writer_rps"`
		ReaderRPS float64 `json:"reader_rps"`
		WriterMin float64 `json:"writer_rps_min"`
		WriterMax float64 `json:"writer_rps_max"`
		ReaderMin float64 `json:"reader_rps_min"`
		ReaderMax float64 `json:"reader_rps_max"`
	}
	of := func(m Mode) *rates {
		return &rates{m.Writer.Median, m.Reader.Median, m.Writer.Min, m.Writer.Max, m.Reader.Min, m.Reader.Max}
	}
	out := struct {
		N        int    `json:"n"`
		Size     int    `json:"size"`
		Readers  int    `json:"readers"`
		Runs     int    `json:"runs"`
		Cold     *rates `json:"cold"`
		Warm     *rates `json:"warm"`
		Baseline *rates `json:"baseline,omitempty"`
		Journal  *rates `json:"journal,omitempty"`
	}{N: r.Options.N, Size: r.Options.Size, Readers: r.Options.Readers, Runs: r.Options.Runs, Cold: of(r.Cold), Warm: of(r.Warm)}
	if r.Baseline != nil {
		out.Baseline = of(*r.Baseline)
	}
	if r.Journal != nil {
		out.Journal = of(*r.Journal)
	}
	return json.Marshal(out)
}

// WriteText prints the report for people.
func (r Report) WriteText(w io.Writer) {
	o := r.Options
	env := o.Envelope.String()
	if o.Envelope.Has(domain.EnvelopeTime) && o.CoarseClock != 0 {
		env += fmt.Sprintf(", coarse clock %v", o.CoarseClock)
	}
	fmt.Fprintf(w, "%d records of %d bytes (envelope %s), 1 writer and %d reader process(es) pausing %v between looks, median of %d runs (min-max)\n", o.N, o.Size, env, o.Readers, o.Pause, o.Runs)
	line := func(name string, f Figure) {
		fmt.Fprintf(w, "  %-16s %8.2f M records/s  %8.1f MB/s   (%.2f-%.2f M/s)\n",
			name, f.Median/1e6, f.Median*float64(o.Size)/1e6, f.Min/1e6, f.Max/1e6)
	}
	cold := "cold"
	if o.ColdAhead {
		cold = "cold+ahead"
	}
	line(cold+" writer", r.Cold.Writer)
	line(cold+" reader", r.Cold.Reader)
	line("warm writer", r.Warm.Writer)
	line("warm reader", r.Warm.Reader)
	if b := r.Baseline; b != nil {
		line("baseline writer", b.Writer)
		line("baseline reader", b.Reader)
		fmt.Fprintf(w, "  library/baseline: writer %.2f, reader %.2f\n", r.Warm.Writer.Median/b.Writer.Median, r.Warm.Reader.Median/b.Reader.Median)
	}
	if j := r.Journal; j != nil {
		line("journal writer", j.Writer)
		line("journal reader", j.Reader)
		fmt.Fprintf(w, "  journal (%d-byte segments)/warm channel: writer %.2f, reader %.2f\n", o.Journal, j.Writer.Median/r.Warm.Writer.Median, j.Reader.Median/r.Warm.Reader.Median)
		keep := "no retention"
		if o.JournalKeep > 0 {
			keep = fmt.Sprintf("retention keeps %d segments", o.JournalKeep)
		}
		fmt.Fprintf(w, "  journal rolls over all runs: %d, into recycled segments: %d (%s)\n", r.JournalRolls, r.JournalRecycled, keep)
		if len(r.JournalHist) > 0 {
			writeHist(w, r.JournalHist)
		}
	}
}

// capacityFor returns the channel capacity that holds n records of size
// bytes after the first heartbeat.
func capacityFor(n, size int) (uint32, error) {
	c := uint64(n)*domain.RecordSize(uint64(size)) + 64
	if c > domain.MaxCapacity {
		return 0, fmt.Errorf("bench: %d records of %d bytes need %d bytes, more than a channel holds (%d)", n, size, c, uint64(domain.MaxCapacity))
	}
	return uint32(c), nil
}

// errNoBaseline refuses --baseline where the baseline cannot run.
var errNoBaseline = fmt.Errorf("bench: the library-free baseline runs on Linux only, not on %s", runtime.GOOS)

func (o *Options) check() error {
	switch {
	case o.N < 1:
		return fmt.Errorf("bench: n = %d: want at least 1", o.N)
	case o.Size < 8:
		return fmt.Errorf("bench: size = %d: want at least 8 bytes (the sequence number)", o.Size)
	case o.Readers < 1:
		return fmt.Errorf("bench: readers = %d: want at least 1", o.Readers)
	case o.Runs < 1:
		return fmt.Errorf("bench: runs = %d: want at least 1", o.Runs)
	case o.Root == "":
		return errors.New("bench: no root folder")
	case o.Baseline && !baselineRuns:
		return errNoBaseline
	}
	return nil
}

// Run measures o.Runs cold runs, o.Runs warm runs and, with o.Baseline,
// o.Runs baseline runs.
func Run(ctx context.Context, o Options) (Report, error) {
	if err := o.check(); err != nil {
		return Report{}, err
	}
	capacity, err := capacityFor(o.N, o.Size+int(o.Envelope.Len()))
	if err != nil {
		return Report{}, err
	}
	rep := Report{Options: o}
	modes := []struct {
		name   string
		warm   bool
		writer string
		reader string
		into   *Mode
	}{
		{"cold", false, "writer", "reader", &rep.Cold},
		{"warm", true, "writer", "reader", &rep.Warm},
	}
	if o.Baseline {
		rep.Baseline = &Mode{}
		modes = append(modes, struct {
			name   string
			warm   bool
			writer string
			reader string
			into   *Mode
		}{"baseline", true, "base-writer", "base-reader", rep.Baseline})
	}
	if o.Journal != 0 {
		rep.Journal = &Mode{}
		modes = append(modes, struct {
			name   string
			warm   bool
			writer string
			reader string
			into   *Mode
		}{"journal", true, "journal-writer", "journal-reader", rep.Journal})
	}
	for _, m := range modes {
		var ws, rs []float64
		for run := 1; run <= o.Runs; run++ {
			if o.Progress != nil {
				fmt.Fprintf(o.Progress, "%s run %d/%d...\n", m.name, run, o.Runs)
			}
			j := job{N: o.N, Size: o.Size, Capacity: capacity, Warm: m.warm, Pause: o.Pause, Envelope: o.Envelope, CoarseClock: o.CoarseClock, Ahead: o.ColdAhead && !m.warm}
			if m.name == "journal" {
				j.Capacity, j.JournalKeep, j.JournalHist = o.Journal, o.JournalKeep, o.JournalHist
			}
			w, r, wrep, err := runOnce(ctx, o, j, m.writer, m.reader)
			if err != nil {
				return rep, fmt.Errorf("bench: %s run %d: %w", m.name, run, err)
			}
			if m.name == "journal" {
				rep.JournalRolls += wrep.Rolls
				rep.JournalRecycled += wrep.Recycled
				for k, c := range wrep.Hist {
					for len(rep.JournalHist) <= k {
						rep.JournalHist = append(rep.JournalHist, 0)
					}
					rep.JournalHist[k] += c
				}
			}
			ws, rs = append(ws, w), append(rs, r)
		}
		*m.into = Mode{Writer: figure(ws), Reader: figure(rs)}
	}
	return rep, nil
}

func figure(v []float64) Figure {
	s := slices.Clone(v)
	slices.Sort(s)
	return Figure{Median: s[len(s)/2], Min: s[0], Max: s[len(s)-1], Runs: v}
}

// worker is one running worker process.
type worker struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	last  chan string
	errb  strings.Builder
}

// start runs this program again as a worker for j.
func start(ctx context.Context, j job) (*worker, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	spec, _ := json.Marshal(j)
	w := &worker{lines: make(chan string, 4), last: make(chan string, 1)}
	w.cmd = exec.CommandContext(ctx, exe)
	w.cmd.Env = append(os.Environ(), workerEnv+"="+string(spec), "GORACE=atexit_sleep_ms=0")
	w.cmd.Stderr = &w.errb
	if w.stdin, err = w.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := w.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := w.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		// Signal lines go to lines as they come; the report, a JSON
		// object, is the last line.
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 64<<20)
		var rep string
		for sc.Scan() {
			if l := sc.Text(); strings.HasPrefix(l, "{") {
				rep = l
			} else {
				w.lines <- l
			}
		}
		close(w.lines)
		w.last <- rep
	}()
	return w, nil
}

// expect waits for the worker's next signal line.
func (w *worker) expect(ctx context.Context, s string) error {
	select {
	case l, ok := <-w.lines:
		if ok && l == s {
			return nil
		}
		return w.fail(fmt.Errorf("worker said %q, want %q", l, s))
	case <-ctx.Done():
		return ctx.Err()
	}
}

// finish waits for the worker to end and returns its report.
func (w *worker) finish() (report, error) {
	for range w.lines {
	}
	last := <-w.last
	werr := w.cmd.Wait()
	var r report
	if err := json.Unmarshal([]byte(last), &r); err != nil {
		return r, w.fail(fmt.Errorf("no report (%v): %q", werr, last))
	}
	if r.Err != "" {
		return r, errors.New(r.Err)
	}
	return r, werr
}

func (w *worker) fail(err error) error {
	if s := strings.TrimSpace(w.errb.String()); s != "" {
		return fmt.Errorf("%w; stderr: %s", err, s)
	}
	return err
}

// kill ends the worker if it still runs and waits for it, so that no
// process or reading goroutine is left behind on an error path.
func (w *worker) kill() {
	if w == nil || w.cmd.Process == nil {
		return
	}
	w.cmd.Process.Kill()
	for range w.lines {
	}
	w.cmd.Wait() // an error once finish has waited: nothing to do then
}

// runOnce runs one writer and o.Readers readers on a fresh channel and
// returns the writer's rate and the slowest reader's, and the writer's
// report.
func runOnce(ctx context.Context, o Options, j job, writerRole, readerRole string) (wrps, rrps float64, wrep report, err error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	var cleanup func()
	if j.Dir, cleanup, err = dirFor(o.Root); err != nil {
		return 0, 0, wrep, err
	}
	defer cleanup()

	var all []*worker
	defer func() {
		for _, w := range all {
			w.kill()
		}
	}()
	startRole := func(role string) (*worker, error) {
		jj := j
		jj.Role = role
		w, err := start(ctx, jj)
		if err == nil {
			all = append(all, w)
		}
		return w, err
	}
	readers := make([]*worker, o.Readers)
	for i := range readers {
		if readers[i], err = startRole(readerRole); err != nil {
			return 0, 0, wrep, err
		}
		if err := readers[i].expect(ctx, sigWaiting); err != nil {
			return 0, 0, wrep, err
		}
	}
	wr, err := startRole(writerRole)
	if err != nil {
		return 0, 0, wrep, err
	}
	if j.Warm {
		if err := wr.expect(ctx, sigReady); err != nil {
			return 0, 0, wrep, err
		}
		for _, r := range readers {
			if err := r.expect(ctx, sigReady); err != nil {
				return 0, 0, wrep, err
			}
		}
		if _, err := fmt.Fprintln(wr.stdin, sigGo); err != nil {
			return 0, 0, wrep, err
		}
	}
	wrep, err = wr.finish()
	if err != nil {
		return 0, 0, wrep, fmt.Errorf("writer: %w", err)
	}
	wrps = float64(j.N) / time.Duration(wrep.End-wrep.Start).Seconds()
	rrps = -1
	for i, r := range readers {
		rrep, err := r.finish()
		if err != nil {
			return 0, 0, wrep, fmt.Errorf("reader %d: %w", i, err)
		}
		rate := float64(j.N) / time.Duration(rrep.End-wrep.Start).Seconds()
		if rrps < 0 || rate < rrps {
			rrps = rate
		}
	}
	return wrps, rrps, wrep, nil
}

// dirFor returns a fresh folder under root, removed by the returned func,
// with root itself if this made it and nothing else is in it.
func dirFor(root string) (string, func(), error) {
	_, err := os.Stat(root)
	madeRoot := errors.Is(err, os.ErrNotExist)
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", nil, err
	}
	d, err := os.MkdirTemp(root, "bench-")
	if err != nil {
		return "", nil, err
	}
	return d, func() {
		os.RemoveAll(d)
		if madeRoot {
			os.Remove(root) // rmdir: refused if something else is in it
		}
	}, nil
}

// writeHist prints the journal writer's per-Write times: the count in
// each power-of-two bucket and the quantiles (a bucket's upper bound).
func writeHist(w io.Writer, hist []uint64) {
	var total uint64
	for _, c := range hist {
		total += c
	}
	fmt.Fprintf(w, "  journal writer's time per Write (%d Writes, clock reads included):\n", total)
	for k, c := range hist {
		if c != 0 {
			fmt.Fprintf(w, "    %10d-%10d ns %12d\n", uint64(1)<<k>>1, uint64(1)<<k-1, c)
		}
	}
	for _, q := range []float64{0.5, 0.99, 0.999, 0.9999} {
		fmt.Fprintf(w, "    p%v < %d ns\n", q*100, histQuantile(hist, total, q))
	}
}

// histQuantile returns the upper bound of the bucket that holds quantile q
// of the total Writes counted in hist.
func histQuantile(hist []uint64, total uint64, q float64) uint64 {
	want := uint64(q * float64(total))
	var seen uint64
	for k, c := range hist {
		seen += c
		if seen > want {
			return uint64(1) << k
		}
	}
	return uint64(1) << len(hist)
}
