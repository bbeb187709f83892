package bench

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
)

// workerEnv carries a worker's job, as JSON, to a re-executed process.
const workerEnv = "KEKBIT_BENCH_WORKER"

// job is what one worker process does.
type job struct {
	Role     string          `json:"role"` // writer, reader, base-writer, base-reader, server, client
	Dir      string          `json:"dir"`
	N        int             `json:"n"`
	Size     int             `json:"size"`
	Capacity uint32          `json:"capacity"`
	Warm     bool            `json:"warm"`
	Warmup   int             `json:"warmup,omitempty"`
	Pause    time.Duration   `json:"pause,omitempty"`
	Envelope domain.Envelope `json:"envelope,omitempty"`
	// CoarseClock is Options.CoarseClock.
	CoarseClock time.Duration `json:"coarse_clock,omitempty"`
	// JournalKeep is Options.JournalKeep.
	JournalKeep int `json:"journal_keep,omitempty"`
	// Ahead is Options.ColdAhead.
	Ahead bool `json:"ahead,omitempty"`
	// JournalHist is Options.JournalHist.
	JournalHist bool `json:"journal_hist,omitempty"`
}

// report is what a worker prints as its last line.
type report struct {
	Start   int64    `json:"start,omitempty"` // wall-clock ns when timing began
	End     int64    `json:"end"`             // wall-clock ns of the last record
	Records int      `json:"records"`
	Err     string   `json:"err,omitempty"`
	RTT     []uint32 `json:"rtt,omitempty"` // round trips, ns (client)
	// A journal writer's rolls, those into a recycled segment, and its
	// Writes' times (Report.JournalHist).
	Rolls    int      `json:"rolls,omitempty"`
	Recycled int      `json:"recycled,omitempty"`
	Hist     []uint64 `json:"hist,omitempty"`
}

// RunWorker runs this process as a benchmark worker if it was started as
// one, then exits; otherwise it returns false at once. A program that runs
// the benchmark (the kekbit command, a test binary) calls it first thing in
// main or TestMain, because the benchmark re-executes its own executable
// for the writer and reader processes.
func RunWorker() bool {
	spec := os.Getenv(workerEnv)
	if spec == "" {
		return false
	}
	var j job
	err := json.Unmarshal([]byte(spec), &j)
	var r report
	if err == nil {
		r, err = j.run(os.Stdin, os.Stdout)
	}
	if err != nil {
		r.Err = err.Error()
	}
	json.NewEncoder(os.Stdout).Encode(r)
	if err != nil {
		os.Exit(1)
	}
	os.Exit(0)
	return true
}

// The signals between the parent and its workers, one line each.
const (
	sigWaiting = "waiting" // a reader polls for the channel
	sigReady   = "ready"   // a warm reader has mapped and pretouched it; a warm writer has created it
	sigGo      = "go"      // the parent tells a warm writer to start
)

func say(w io.Writer, s string) { fmt.Fprintln(w, s) }

func (j job) run(in io.Reader, out io.Writer) (report, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	switch j.Role {
	case "writer":
		return j.writer(in, out)
	case "reader":
		return j.reader(ctx, out)
	case "journal-writer":
		return j.journalWriter(in, out)
	case "journal-reader":
		return j.journalReader(ctx, out)
	case "base-writer":
		return j.baseWriter(in, out)
	case "base-reader":
		return j.baseReader(ctx, out)
	case "server":
		return j.server(ctx, out)
	case "client":
		return j.client(ctx, out)
	}
	return report{}, fmt.Errorf("bench: unknown worker role %q", j.Role)
}

const channelID = 1

func (j job) volume() *mmap.Volume {
	if j.Warm {
		return mmap.NewVolume(j.Dir, mmap.WithPretouch())
	}
	if j.Ahead {
		return mmap.NewVolume(j.Dir, mmap.WithPretouchAhead())
	}
	return mmap.NewVolume(j.Dir)
}

func (j job) header(id uint64) (domain.Header, error) {
	return domain.NewHeader(domain.Hints{
		WriterID: uint64(os.Getpid()), ChannelID: id,
		Capacity: j.Capacity, MaxMsgLen: uint32(j.Size),
		Timeout: 60, TickUnit: domain.Secs, Envelope: j.Envelope,
	})
}

// waitGo blocks until the parent says go.
func waitGo(in io.Reader) error {
	sc := bufio.NewScanner(in)
	if !sc.Scan() || sc.Text() != sigGo {
		return errors.New("bench: the parent did not say go")
	}
	return nil
}

// writer creates the channel and writes N records, each carrying its
// sequence number in its first 8 bytes. Cold, timing starts before the
// channel is created; warm, once the parent says go, after pretouching.
func (j job) writer(in io.Reader, out io.Writer) (report, error) {
	var r report
	h, err := j.header(channelID)
	if err != nil {
		return r, err
	}
	r.Start = time.Now().UnixNano()
	var opts []domain.WriterOption
	if j.CoarseClock != 0 {
		opts = append(opts, domain.WithCoarseClock(j.CoarseClock))
	}
	w, err := domain.Create(j.volume(), h, codecs.Raw{}, opts...)
	if err != nil {
		return r, err
	}
	defer w.Close()
	if j.Warm {
		say(out, sigReady)
		if err := waitGo(in); err != nil {
			return r, err
		}
		r.Start = time.Now().UnixNano()
	}
	if err := writeAll(j, w.Write); err != nil {
		return r, err
	}
	r.End, r.Records = time.Now().UnixNano(), j.N
	return r, w.Close()
}

// writeAll writes the job's N records of Size bytes with write, each
// carrying its sequence number in its first 8 bytes.
func writeAll[W any](j job, write func([]byte) (W, error)) error {
	buf := make([]byte, j.Size)
	for i := range j.N {
		binary.LittleEndian.PutUint64(buf, uint64(i))
		if _, err := write(buf); err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
	}
	return nil
}

// checker checks that the records a reader hands out are the job's, in
// order: Size bytes, sequence numbers from 0. It keeps the first problem.
type checker struct {
	size    int
	records int
	bad     error
}

// check checks the payload p of the record at pos (for the message). It
// is generic so that pos is not boxed into an interface per record (an
// allocation each, which slowed the readers down).
func check[P fmt.Stringer](c *checker, pos P, p []byte) {
	if c.bad == nil && (len(p) != c.size || len(p) < 8 || binary.LittleEndian.Uint64(p) != uint64(c.records)) {
		c.bad = fmt.Errorf("record %d at %v: %d bytes, want %d with the sequence number first", c.records, pos, len(p), c.size)
	}
	c.records++
}

// end is the reader's result once its follow ended with err, closed
// being the error that says the writer closed the channel (or journal).
func (c *checker) end(j job, err, closed error) error {
	switch {
	case c.bad != nil:
		return c.bad
	case !errors.Is(err, closed):
		return err
	case c.records != j.N:
		return fmt.Errorf("read %d records of %d", c.records, j.N)
	}
	return nil
}

// position is a channel position as a fmt.Stringer.
type position uint64

func (p position) String() string { return fmt.Sprint(uint64(p)) }

// reader follows the channel with a busy-spinning reader and checks every
// record's sequence number and length.
func (j job) reader(ctx context.Context, out io.Writer) (report, error) {
	var r report
	say(out, sigWaiting)
	rd, err := domain.OpenWhenReady(ctx, j.volume(), channelID, domain.WithWait(domain.Wait{Spins: -1, Pause: j.Pause}))
	if err != nil {
		return r, err
	}
	defer rd.Close()
	if j.Warm {
		say(out, sigReady)
	}
	c := checker{size: j.Size}
	err = rd.Follow(ctx, func(rec domain.Record) error {
		check(&c, position(rec.Position), rec.Payload)
		return nil
	})
	r.End, r.Records = time.Now().UnixNano(), c.records
	return r, c.end(j, err, domain.ErrClosed)
}
