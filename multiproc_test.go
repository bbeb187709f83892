//go:build linux

package kekbit_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit"
	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/internal/channeltest"
)

// Multi-writer channels across processes: the test binary re-executes
// itself (TestMultiHelper) as writers, a writer to be killed mid-claim and
// readers. KEKBIT_MULTI_FULL=1 runs the counts of issue 17 (1,000,000
// records per writer, 50 kills); the default is small, for CI.

const (
	multiRole = "KEKBIT_MULTI_ROLE"
	multiRoot = "KEKBIT_MULTI_ROOT"
	multiWID  = "KEKBIT_MULTI_WID"
	multiN    = "KEKBIT_MULTI_N"
	multiFull = "KEKBIT_MULTI_FULL"
	multiChan = 0x17
)

func multiFullRun() bool { return os.Getenv(multiFull) == "1" }

// multiRootDir returns a fresh folder for the test's channels, in /dev/shm
// when there is one (the full run writes hundreds of MB).
func multiRootDir(t testing.TB) string {
	t.Helper()
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		dir, err := os.MkdirTemp("/dev/shm", "kekbit-multi-")
		if err == nil {
			t.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return t.TempDir()
}

// multiProc is a helper process and the lines it prints.
type multiProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	done  chan struct{}
	err   strings.Builder
}

func startMulti(t testing.TB, role, root string, wid uint64, n int) *multiProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestMultiHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), multiRole+"="+role, multiRoot+"="+root,
		multiWID+"="+strconv.FormatUint(wid, 10), multiN+"="+strconv.Itoa(n), "GORACE=atexit_sleep_ms=0")
	p := &multiProc{cmd: cmd, lines: make(chan string, 16), done: make(chan struct{})}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &p.err
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return p
}

// line waits for the next line starting with prefix (other lines are
// skipped) and returns the rest of it.
func (p *multiProc) line(t testing.TB, prefix string, within time.Duration) string {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				p.cmd.Wait()
				t.Fatalf("helper ended before %q: %s", prefix, p.err.String())
			}
			if strings.HasPrefix(l, "error ") {
				t.Fatalf("helper: %s", l)
			}
			if rest, ok := strings.CutPrefix(l, prefix); ok {
				return strings.TrimSpace(rest)
			}
		case <-deadline:
			t.Fatalf("no %q from the helper within %v: %s", prefix, within, p.err.String())
		}
	}
}

// readResult is what a reader process reports.
type readResult struct {
	Total  int
	Next   map[uint64]uint64
	MaxGap time.Duration // the longest wait between two records
}

// TestMultiHelper is the helper processes' body; it does nothing in a
// plain run.
func TestMultiHelper(t *testing.T) {
	role := os.Getenv(multiRole)
	if role == "" {
		return
	}
	root := os.Getenv(multiRoot)
	wid, _ := strconv.ParseUint(os.Getenv(multiWID), 10, 64)
	n, _ := strconv.Atoi(os.Getenv(multiN))
	if err := multiHelper(role, root, wid, n); err != nil {
		fmt.Printf("error %v\n", err)
	}
	os.Stdout.Sync()
	os.Exit(0)
}

func multiHelper(role, root string, wid uint64, n int) error {
	vol := mmap.NewVolume(root)
	if strings.HasPrefix(role, "bench") {
		// As the benchmark's own process: no page fault in the timed part.
		vol = mmap.NewVolume(root, mmap.WithPretouch())
	}
	switch role {
	case "writer", "victim":
		w, err := kekbit.Join(vol, multiChan, codecs.Raw{})
		if err != nil {
			return err
		}
		fmt.Println("ready")
		if err := writeTagged(w, wid, n); err != nil {
			return err
		}
		if role == "victim" {
			p, err := w.Claim(48)
			if err != nil {
				return err
			}
			copy(p, "a claim its writer never commits")
			fmt.Printf("claimed %d\n", n)
			os.Stdout.Sync()
			time.Sleep(time.Hour) // killed here
		}
		fmt.Printf("done %d\n", n)
		return w.Release()
	case "batchvictim": // n tagged records, then batches of 64 without pause, to be killed among them
		w, err := kekbit.Join(vol, multiChan, codecs.Raw{})
		if err != nil {
			return err
		}
		if err := writeTagged(w, wid, n); err != nil {
			return err
		}
		fmt.Println("batching")
		os.Stdout.Sync()
		batch := make([][]byte, 64)
		for s := n; s < n+batchVictimMax; s += len(batch) {
			for k := range batch {
				batch[k] = channeltest.Tagged(wid, uint64(s+k), 16+(s+k)%80)
			}
			if _, err := w.WriteBatch(batch); err != nil {
				return err
			}
		}
		time.Sleep(time.Hour) // killed here, if not among the batches
		return nil
	case "reader":
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		r, err := kekbit.OpenWhenReady(ctx, vol, multiChan, kekbit.WithClaimBound(100*time.Millisecond),
			kekbit.WithWait(kekbit.Wait{Spins: 16, Yields: 16, MinSleep: 20 * time.Microsecond, MaxSleep: time.Millisecond}))
		if err != nil {
			return err
		}
		fmt.Println("ready")
		var c channeltest.Order
		var res readResult
		last := time.Time{}
		err = r.Follow(ctx, func(rec kekbit.Record) error {
			if now := time.Now(); !last.IsZero() && now.Sub(last) > res.MaxGap {
				res.MaxGap = now.Sub(last)
			}
			last = time.Now()
			return c.Add(rec.Payload)
		})
		if !errors.Is(err, kekbit.ErrClosed) {
			return fmt.Errorf("follow ended with %v after %d records", err, c.Total)
		}
		res.Total, res.Next = c.Total, c.Next
		b, _ := json.Marshal(res)
		fmt.Printf("read %s\n", b)
		return nil
	case "benchwriter": // wid: records per WriteBatch, 0 for Write
		w, err := kekbit.Join(vol, multiChan, codecs.Raw{})
		if err != nil {
			return err
		}
		fmt.Println("ready")
		bufio.NewReader(os.Stdin).ReadString('\n')
		if err := benchWrite(w, n, int(wid)); err != nil {
			return err
		}
		fmt.Println("done")
		return w.Release()
	case "benchreader":
		r, err := kekbit.OpenWhenReady(context.Background(), vol, multiChan, kekbit.WithWait(kekbit.Streaming))
		if err != nil {
			return err
		}
		fmt.Println("ready")
		got := 0
		err = r.Follow(context.Background(), func(kekbit.Record) error {
			if got++; got == n {
				return io.EOF
			}
			return nil
		})
		if err != io.EOF {
			return err
		}
		fmt.Println("done")
		return nil
	}
	return fmt.Errorf("unknown role %q", role)
}

// writeTagged writes n tagged records of writer wid, by Write and by
// Claim+Commit in turn, and every 32 records a batch of 8 by WriteBatch.
func writeTagged(w *kekbit.Writer[[]byte], wid uint64, n int) error {
	for s := 0; s < n; s++ {
		if s%32 == 5 && s+8 <= n {
			batch := make([][]byte, 8)
			for k := range batch {
				batch[k] = channeltest.Tagged(wid, uint64(s+k), 16+(s+k)%40)
			}
			if k, err := w.WriteBatch(batch); err != nil {
				return fmt.Errorf("writer %d batch from record %d, %d went in: %w", wid, s, k, err)
			}
			s += len(batch) - 1
			continue
		}
		p := channeltest.Tagged(wid, uint64(s), 16+s%40)
		if s%2 == 0 {
			if _, err := w.Write(p); err != nil {
				return fmt.Errorf("writer %d record %d: %w", wid, s, err)
			}
			continue
		}
		b, err := w.Claim(len(p) + 5)
		if err != nil {
			return fmt.Errorf("writer %d record %d: %w", wid, s, err)
		}
		copy(b, p)
		if _, err := w.Commit(len(p)); err != nil {
			return fmt.Errorf("writer %d record %d: %w", wid, s, err)
		}
	}
	return nil
}

// createMulti makes the test's multi-writer channel under root for
// records records of tagged payloads.
func createMulti(t *testing.T, root string, records int) *kekbit.Writer[[]byte] {
	t.Helper()
	h, err := kekbit.NewHeader(kekbit.Hints{WriterID: 1, ChannelID: multiChan, Capacity: uint32(records*96 + 1<<20),
		MaxMsgLen: 100, Timeout: 30_000, TickUnit: kekbit.Millis, Envelope: kekbit.EnvelopeAll, MultiWriter: true})
	if err != nil {
		t.Fatal(err)
	}
	w, err := kekbit.Create(mmap.NewVolume(root), h, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// crateCheck reads the channel file by the crate's rules (crateRead, no
// code of this module) and checks the tagged records in it: void records
// (the envelope only) skipped, the rest with their 24-byte envelope
// stripped. It returns the per-writer counts.
func crateCheck(t *testing.T, root string) channeltest.Order {
	t.Helper()
	img, err := os.ReadFile(mmap.ChannelPath(root, multiChan))
	if err != nil {
		t.Fatal(err)
	}
	c := crateRead(t, img)
	if c.final != "Closed" {
		t.Errorf("the crate's read ends %q at %d, want Closed", c.final, c.pos)
	}
	var o channeltest.Order
	voids := 0
	for _, m := range c.msgs {
		p := m.Bytes()
		if len(p) == 24 {
			voids++
			continue
		}
		if err := o.Add(p[24:]); err != nil {
			t.Fatalf("the crate's message at %d: %v", m.Pos, err)
		}
	}
	t.Logf("the crate reads %d records and %d void records", o.Total, voids)
	return o
}

// TestMultiWriterProcesses: 4 writer processes and 2 writer goroutines
// append to one multi-writer channel while 2 reader processes follow it:
// every reader, and the crate's rules on the file afterwards, find every
// record exactly once and each writer's in its own order.
func TestMultiWriterProcesses(t *testing.T) {
	per := 20_000
	if multiFullRun() {
		per = 1_000_000
	}
	root := multiRootDir(t)
	a := createMulti(t, root, 6*per)
	b, err := kekbit.Join(mmap.NewVolume(root), multiChan, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	var readers, writers []*multiProc
	for range 2 {
		readers = append(readers, startMulti(t, "reader", root, 0, 0))
	}
	for _, r := range readers {
		r.line(t, "ready", time.Minute)
	}
	for i := range 4 {
		writers = append(writers, startMulti(t, "writer", root, uint64(2+i), per))
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for i, w := range []*kekbit.Writer[[]byte]{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := writeTagged(w, uint64(i), per); err != nil {
				errs <- err
			}
		}()
	}
	for _, w := range writers {
		w.line(t, "done", 10*time.Minute)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	if err := b.Release(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("6 writers, %d records each: %v (%.1f M records/s in all)", per, elapsed, float64(6*per)/elapsed.Seconds()/1e6)
	for i, r := range readers {
		var res readResult
		if err := json.Unmarshal([]byte(r.line(t, "read", 10*time.Minute)), &res); err != nil {
			t.Fatal(err)
		}
		if res.Total != 6*per {
			t.Errorf("reader %d: %d records, want %d", i, res.Total, 6*per)
		}
		for wid := range uint64(6) {
			if res.Next[wid] != uint64(per) {
				t.Errorf("reader %d: %d records of writer %d, want %d", i, res.Next[wid], wid, per)
			}
		}
	}
	o := crateCheck(t, root)
	if o.Total != 6*per {
		t.Errorf("the crate reads %d records, want %d", o.Total, 6*per)
	}
}

// batchVictimMax is how many records a batch victim writes in batches
// at most, if it is not killed first.
const batchVictimMax = 4096

// TestMultiWriterKilled: while 2 writer goroutines and 3 writer
// processes append (20,000 records each; KEKBIT_MULTI_FULL=1: 1,000,000)
// and 2 reader processes follow, a fourth writer process is SIGKILLed with
// a claim open, again and again (3 times; KEKBIT_MULTI_FULL=1: 50), each
// time after committing a random number of records. The readers get past
// each dead claim (bound 100ms), lose none of the killed writers'
// committed records, and end with every record of every writer once and
// in order; the crate's rules read the same from the file. Every third
// victim is killed instead at a random moment while it writes batches of
// 64 records (WriteBatch), often in the middle of one: every reader, and
// the crate, reads the same prefix of its records, and gets past the rest.
func TestMultiWriterKilled(t *testing.T) {
	kills, per := 3, 20_000
	if multiFullRun() {
		kills, per = 50, 1_000_000
	}
	root := multiRootDir(t)
	a := createMulti(t, root, 5*per+kills*(600+batchVictimMax))
	b, err := kekbit.Join(mmap.NewVolume(root), multiChan, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	var readers, writers []*multiProc
	for range 2 {
		readers = append(readers, startMulti(t, "reader", root, 0, 0))
	}
	for _, r := range readers {
		r.line(t, "ready", time.Minute)
	}
	for i := range 3 {
		writers = append(writers, startMulti(t, "writer", root, uint64(2+i), per))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for i, w := range []*kekbit.Writer[[]byte]{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range per {
				if s%16 == 0 { // paced, so that the kills fall among their records
					time.Sleep(20 * time.Microsecond)
				}
				if err := writeTagged1(w, uint64(i), s); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	rng := rand.New(rand.NewPCG(17, uint64(kills)))
	committed := map[uint64]uint64{}
	var batched []uint64 // batch victims: killed after an unknown number of records
	for k := range kills {
		wid := uint64(100 + k)
		m := 50 + rng.IntN(500)
		if k%3 == 2 {
			// Killed while it writes batches of 64, records published in
			// order up to the kill: each reader must read the same prefix
			// of its records, and get past the rest.
			v := startMulti(t, "batchvictim", root, wid, m)
			v.line(t, "batching", time.Minute)
			time.Sleep(time.Duration(rng.IntN(300)) * time.Microsecond)
			if err := v.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			v.cmd.Wait()
			committed[wid] = uint64(m) // at least
			batched = append(batched, wid)
			continue
		}
		v := startMulti(t, "victim", root, wid, m)
		got, err := strconv.Atoi(v.line(t, "claimed", time.Minute))
		if err != nil || got != m {
			t.Fatalf("victim %d: claimed after %d (%v), want %d", k, got, err, m)
		}
		if err := v.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		v.cmd.Wait()
		committed[wid] = uint64(m)
	}
	for _, w := range writers {
		w.line(t, "done", 10*time.Minute)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := b.Release(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	for wid := range uint64(5) {
		committed[wid] = uint64(per)
	}
	want := 0
	for _, n := range committed {
		want += int(n)
	}
	var first readResult // reader 0's: the batch victims' counts the others must match
	before := map[uint64]uint64{}
	for i, r := range readers {
		var res readResult
		if err := json.Unmarshal([]byte(r.line(t, "read", 10*time.Minute)), &res); err != nil {
			t.Fatal(err)
		}
		t.Logf("reader %d: %d records, longest wait between two %v (bound 100ms)", i, res.Total, res.MaxGap)
		if i == 0 {
			first = res
			for _, wid := range batched {
				if res.Next[wid] < committed[wid] {
					t.Errorf("reader 0: %d records of batch victim %d, want its %d before its batches at least", res.Next[wid], wid, committed[wid])
				}
				want += int(res.Next[wid] - committed[wid])
				before[wid], committed[wid] = committed[wid], res.Next[wid]
			}
			for _, wid := range batched {
				t.Logf("batch victim %d: %d records read, %d of them by WriteBatch", wid, res.Next[wid], res.Next[wid]-before[wid])
			}
		}
		for wid, n := range committed {
			if res.Next[wid] != n {
				t.Errorf("reader %d: %d records of writer %d, want %d (reader 0: %d)", i, res.Next[wid], wid, n, first.Next[wid])
			}
		}
		if res.Total != want {
			t.Errorf("reader %d: %d records, want %d", i, res.Total, want)
		}
		// Not a timing assertion of speed: a hang detector, far above the
		// bound, for a dead claim nobody repaired.
		if res.MaxGap > 20*time.Second {
			t.Errorf("reader %d waited %v between two records", i, res.MaxGap)
		}
	}
	o := crateCheck(t, root)
	for wid, n := range committed {
		if o.Next[wid] != n {
			t.Errorf("the crate reads %d records of writer %d, want %d", o.Next[wid], wid, n)
		}
	}
	if o.Total != want {
		t.Errorf("the crate reads %d records, want %d", o.Total, want)
	}
}

// writeTagged1 writes record s of writer wid.
func writeTagged1(w *kekbit.Writer[[]byte], wid uint64, s int) error {
	_, err := w.Write(channeltest.Tagged(wid, uint64(s), 16+s%40))
	return err
}

// BenchmarkMultiProcess measures Write of 72-byte records on mmap
// channels in /dev/shm: a single-writer channel's writer alone and while
// a reader process follows it; a multi-writer channel's one writer alone;
// and 2 processes (this one and a helper) writing one multi-writer channel
// at once, b.N records in all, timed from the start signal to the last
// record; then the same by WriteBatch of 16 records. Run it with a fixed
// count, e.g. -benchtime=4000000x.
func BenchmarkMultiProcess(b *testing.B) {
	header := func(b *testing.B, multi bool) kekbit.Header {
		h, err := kekbit.NewHeader(kekbit.Hints{WriterID: 1, ChannelID: multiChan, Capacity: uint32(min(uint64(b.N)*80+1<<20, 1<<32-8)),
			MaxMsgLen: 72, Timeout: 30_000, TickUnit: kekbit.Millis, MultiWriter: multi})
		if err != nil {
			b.Fatal(err)
		}
		return h
	}
	for _, c := range []struct {
		name            string
		multi           bool
		procs           int
		readerProcesses int
		batch           int // records per WriteBatch, 0 for Write
	}{
		{"single/writers=1", false, 1, 0, 0},
		{"single/writers=1+reader-process", false, 1, 1, 0},
		{"multi/writers=1", true, 1, 0, 0},
		{"multi/processes=2", true, 2, 0, 0},
		{"single/writers=1/batch=16", false, 1, 0, 16},
		{"multi/writers=1/batch=16", true, 1, 0, 16},
		{"multi/processes=2/batch=16", true, 2, 0, 16},
	} {
		b.Run(c.name, func(b *testing.B) {
			root := multiRootDir(b)
			vol := mmap.NewVolume(root, mmap.WithPretouch())
			w, err := kekbit.Create(vol, header(b, c.multi), codecs.Raw{})
			if err != nil {
				b.Fatal(err)
			}
			var helpers []*multiProc
			for range c.readerProcesses {
				helpers = append(helpers, startMulti(b, "benchreader", root, 0, b.N))
			}
			mine := b.N
			if c.procs == 2 {
				helpers = append(helpers, startMulti(b, "benchwriter", root, uint64(c.batch), b.N/2))
				mine = b.N - b.N/2
			}
			for _, h := range helpers {
				h.line(b, "ready", time.Minute)
			}
			b.SetBytes(72)
			b.ResetTimer()
			for _, h := range helpers {
				if c.procs == 2 {
					fmt.Fprintln(h.stdin, "go")
				}
			}
			if err := benchWrite(w, mine, c.batch); err != nil {
				b.Fatal(err)
			}
			for _, h := range helpers {
				h.line(b, "done", 10*time.Minute)
			}
			b.StopTimer()
			w.Close()
		})
	}
}

// benchWrite writes n records of 72 bytes to w, by Write, or with batch
// by WriteBatch of batch records.
func benchWrite(w *kekbit.Writer[[]byte], n, batch int) error {
	data := make([]byte, 72)
	if batch == 0 {
		for range n {
			if _, err := w.Write(data); err != nil {
				return err
			}
		}
		return nil
	}
	vs := make([][]byte, batch)
	for i := range vs {
		vs[i] = data
	}
	for done := 0; done < n; done += batch {
		if _, err := w.WriteBatch(vs[:min(batch, n-done)]); err != nil {
			return err
		}
	}
	return nil
}
