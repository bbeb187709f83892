//go:build linux

package reliability_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
)

// Channels cut short under their readers: 8 MiB, records of up to 200
// bytes, a timeout far longer than the test.
const (
	cutID       = 0xC07
	cutCapacity = 8 << 20
	cutMaxMsg   = 200
	// cutAfter is how far the live reader has read when the file is cut,
	// at about half that.
	cutAfter = 256 << 10
)

func cutHeader() (domain.Header, error) {
	return domain.NewHeader(domain.Hints{
		WriterID: uint64(os.Getpid()), ChannelID: cutID, Capacity: cutCapacity,
		MaxMsgLen: cutMaxMsg, Timeout: 600, TickUnit: domain.Secs,
	})
}

// paceWriter writes checksummed records to w, about 1 KB per millisecond
// so that the channel lasts seconds, until a write fails or stop is
// closed. Near the end of the channel it only heartbeats. It returns the
// error that stopped it (nil for stop).
func paceWriter(w *domain.Writer[[]byte], seed uint64, stop <-chan struct{}) error {
	rng := rand.New(rand.NewPCG(seed, 3))
	buf := make([]byte, 0, cutMaxMsg+8)
	maxBody := int(w.Header().MaxMsgLen) - recordOverhead
	var seq uint64
	for {
		select {
		case <-stop:
			return nil
		default:
		}
		if w.Available() < 64<<10 {
			if _, err := w.Heartbeat(); err != nil {
				return fmt.Errorf("heartbeat after record %d: %w", seq, err)
			}
		} else {
			for range 8 {
				buf = makeRecord(buf, seq, rng.IntN(maxBody+1), rng)
				if _, err := w.Write(buf); err != nil {
					return fmt.Errorf("record %d: %w", seq, err)
				}
				seq++
			}
		}
		time.Sleep(time.Millisecond)
	}
}

// cutWriterProcess is a writer in its own process: it creates the
// channel, says "ready" and writes until its file is cut short under it.
// Unguarded, the fault kills it (a Go "unexpected fault address" crash).
// Guarded (envGuard=1), its write fails: it prints the error as its
// verdict and keeps the channel, alive, until its standard input closes.
func cutWriterProcess() error {
	h, err := cutHeader()
	if err != nil {
		return err
	}
	var opts []domain.WriterOption
	guarded := os.Getenv(envGuard) == "1"
	if guarded {
		opts = append(opts, domain.WithFaultGuard())
	}
	w, err := domain.Create(mmap.NewVolume(os.Getenv(envRoot)), h, codecs.Raw{}, opts...)
	if err != nil {
		return err
	}
	say("ready")
	err = paceWriter(w, 1, nil)
	if !guarded {
		return err
	}
	say("%swriter %s: %v", verdictPrefix, sentinel(err), err)
	io.Copy(io.Discard, os.Stdin)
	return nil
}

// truncateProcess says "ready", reads a size from standard input and cuts
// the file at envPath to it.
func truncateProcess() error {
	say("ready")
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil {
		return err
	}
	size, err := strconv.ParseInt(strings.TrimSpace(line), 10, 64)
	if err != nil {
		return err
	}
	if err := os.Truncate(os.Getenv(envPath), size); err != nil {
		return err
	}
	say("%struncated %d", verdictPrefix, size)
	return nil
}

// TestTruncatedUnderLiveMapping cuts a channel file short, from another
// process, in the middle of the records a reader in this process has
// already read, while that reader follows the channel and its writer is
// still writing. The reader must end with domain.ErrTruncated, having
// handed out only whole, good records, and this process must live on.
//
// The writer is guarded (domain.WithFaultGuard): in this process, or in a
// third one. Its next write fails with ErrTruncated, and it keeps the
// channel until the reader is done. (An unguarded writer process dies of
// the fault; a reader then sometimes dies too, see
// TestFollowSurvivesCutWhenWriterGone.)
func TestTruncatedUnderLiveMapping(t *testing.T) {
	t.Run("writer-here", func(t *testing.T) { truncatedUnderLiveMapping(t, false) })
	t.Run("writer-in-another-process", func(t *testing.T) { truncatedUnderLiveMapping(t, true) })
}

func truncatedUnderLiveMapping(t *testing.T, writerProcess bool) {
	root := shmRoot(t)
	vol := mmap.NewVolume(root)
	path := vol.Path(cutID)
	deadline := time.After(followDeadline)

	var writerDone chan error
	var w *domain.Writer[[]byte]
	var wp *helper
	stop := make(chan struct{})
	defer close(stop)
	if writerProcess {
		wp = startHelper(t, "cut-writer", envRoot+"="+root, envGuard+"=1")
		select {
		case <-wp.ready:
		case <-wp.done:
			t.Fatalf("writer process died: %s", wp.describe())
		case <-deadline:
			t.Fatal("writer process never ready")
		}
	} else {
		h, err := cutHeader()
		if err != nil {
			t.Fatal(err)
		}
		w, err = domain.Create(vol, h, codecs.Raw{}, domain.WithFaultGuard())
		if err != nil {
			t.Fatal(err)
		}
		writerDone = make(chan error, 1)
		go func() { writerDone <- paceWriter(w, 1, stop) }()
	}
	tp := startHelper(t, "truncate", envPath+"="+path)
	select {
	case <-tp.ready:
	case <-tp.done:
		t.Fatalf("truncating process died: %s", tp.describe())
	case <-deadline:
		t.Fatal("truncating process never ready")
	}

	r, err := domain.Open(vol, cutID, domain.WithWait(fastWait))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var readTo atomic.Uint64
	type followEnd struct {
		v   verifier
		err error
	}
	readerDone := make(chan followEnd, 1)
	ctx, cancel := context.WithTimeout(context.Background(), followDeadline)
	defer cancel()
	go func() {
		var v verifier
		err := r.Follow(ctx, func(rec domain.Record) error {
			pos, p := rec.Position, rec.Payload
			v.check(pos, p)
			readTo.Store(pos + domain.RecordSize(uint64(len(p))))
			return nil
		})
		readerDone <- followEnd{v, err}
	}()

	// Wait until the reader is well into the channel, then cut the file
	// at about half of what it has read: inside a record it handed out,
	// pages before its position.
	for readTo.Load() < cutAfter {
		select {
		case end := <-readerDone:
			t.Fatalf("the reader stopped at %d records before the cut: %v, %v", end.v.next, end.err, end.v.err)
		case <-deadline:
			t.Fatalf("the reader read only %d bytes", readTo.Load())
		case <-time.After(time.Millisecond):
		}
	}
	at := readTo.Load()
	cut := int64(domain.DataOffset + at/2 + 3)
	fmt.Fprintf(tp.stdin, "%d\n", cut)
	if exited, err := tp.waitTimeout(followDeadline); !exited || err != nil {
		t.Fatalf("truncating process: exited %v, %v; %s", exited, err, tp.describe())
	}
	if v, _ := tp.verdict(); v != fmt.Sprintf("truncated %d", cut) {
		t.Fatalf("truncating process: %s", tp.describe())
	}

	var end followEnd
	select {
	case end = <-readerDone:
	case <-deadline:
		t.Fatal("the reader did not end after the cut")
	}
	if end.v.err != nil {
		t.Fatalf("the reader handed out a bad record: %v", end.v.err)
	}
	var re *domain.ReadError
	if !errors.Is(end.err, domain.ErrTruncated) || !errors.As(end.err, &re) {
		t.Fatalf("the reader ended with %v after %d records, want ErrTruncated", end.err, end.v.next)
	}
	if re.Position < at {
		t.Fatalf("the reader ended at position %d, before the %d it had read", re.Position, at)
	}
	t.Logf("cut at file offset %d with the reader at %d: it ended after %d records with %v", cut, at, end.v.next, end.err)

	// The writer's next write failed: it saw the cut too.
	if writerProcess {
		var v string
		for v == "" {
			select {
			case <-wp.done:
				t.Fatalf("the writer process died: %s", wp.describe())
			case <-deadline:
				t.Fatalf("the writer process went on writing past the cut: %s", wp.describe())
			case <-time.After(time.Millisecond):
			}
			v, _ = wp.verdict()
		}
		if !strings.HasPrefix(v, "writer truncated") {
			t.Fatalf("the guarded writer process: %q, want ErrTruncated", v)
		}
		wp.stdin.Close()
		if exited, err := wp.waitTimeout(followDeadline); !exited || err != nil {
			t.Fatalf("writer process: exited %v, %v; %s", exited, err, wp.describe())
		}
		t.Logf("guarded writer in another process: %s", v)
	} else {
		select {
		case err := <-writerDone:
			if !errors.Is(err, domain.ErrTruncated) {
				t.Fatalf("the guarded writer ended with %v, want ErrTruncated", err)
			}
			t.Logf("guarded writer: %v", err)
		case <-deadline:
			t.Fatal("the guarded writer went on writing past the cut")
		}
		if err := w.Close(); !errors.Is(err, domain.ErrTruncated) {
			t.Fatalf("closing the guarded writer after the cut: %v, want ErrTruncated", err)
		}
	}

	// A reader opened now reads the records wholly before the cut, then
	// ErrTruncated.
	r2, err := domain.Open(vol, cutID)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	var v verifier
	_, err = r2.Read(v.handle, 0)
	if v.err != nil || !errors.Is(err, domain.ErrTruncated) || !errors.As(err, &re) {
		t.Fatalf("reading the cut file: %d records, %v, %v; want ErrTruncated", v.next, v.err, err)
	}
	fileEnd := uint64(cut - domain.DataOffset)
	if re.Position > fileEnd || re.Position+domain.RecordSize(re.Word) <= fileEnd {
		t.Fatalf("reading the cut file ended at %v, not at the record the cut crosses (data ends at %d)", err, fileEnd)
	}
}

// TestReaderMappedBeforeCut cuts a channel file short under a reader's
// live mapping, inside a record whose cut-off part lies in the same page
// as the new end of the file. The kernel zeroes that part of the page
// rather than unmapping it, so no fault tells a reader that has not looked
// at the file's size since: this is the one record the format cannot save,
// and the domain documents it. The test pins the damage down: the records
// before the cut come out intact, at most the record the cut crosses comes
// out torn, and the read ends with ErrTruncated. A reader that has idled
// since the cut (it asks the file's size then) replays the channel and
// stops at the cut with no torn record.
func TestReaderMappedBeforeCut(t *testing.T) {
	root := t.TempDir()
	vol := mmap.NewVolume(root)
	h, err := cutHeader()
	if err != nil {
		t.Fatal(err)
	}
	w, err := domain.Create(vol, h, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close() // after the cut: the close mark lands past it, in a page that stays mapped for the writer only while it is open
	rng := rand.New(rand.NewPCG(7, 7))
	buf := make([]byte, 0, cutMaxMsg+8)
	for seq := range uint64(300) {
		buf = makeRecord(buf, seq, 84, rng) // 100-byte payloads, 112-byte records
		if _, err := w.Write(buf); err != nil {
			t.Fatal(err)
		}
	}
	stale, err := domain.Open(vol, cutID)
	if err != nil {
		t.Fatal(err)
	}
	defer stale.Close()
	idle, err := domain.Open(vol, cutID)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	var all verifier
	if _, err := idle.Read(all.handle, 0); err != domain.ErrNothingYet || all.err != nil || all.next != 300 {
		t.Fatalf("before the cut: %d records, %v, %v", all.next, all.err, err)
	}
	// Record 40 starts at position 8+40*112 = 4488, file offset 5512, and
	// ends at 5624: all in the second page. Cut in its payload.
	const j = 40
	cut := int64(domain.DataOffset + 8 + j*112 + 8 + 50)
	if err := os.Truncate(vol.Path(cutID), cut); err != nil {
		t.Fatal(err)
	}

	var v verifier
	var handed []uint64
	_, err = stale.Read(func(rec domain.Record) error {
		pos, p := rec.Position, rec.Payload
		handed = append(handed, pos)
		v.check(pos, p)
		return nil
	}, 0)
	if !errors.Is(err, domain.ErrTruncated) || v.next != j || len(handed) > j+1 {
		t.Fatalf("stale reader: %d good records of %d handed out, then %v (bad: %v); want %d good, at most one torn, then ErrTruncated",
			v.next, len(handed), err, v.err, j)
	}
	if len(handed) == j+1 && handed[j] != 8+j*112 {
		t.Fatalf("the torn record is at %d, not the one the cut crosses", handed[j])
	}

	time.Sleep(2 * time.Millisecond)
	if _, err := idle.Read(func(domain.Record) error { return nil }, 0); !errors.Is(err, domain.ErrTruncated) && err != domain.ErrNothingYet {
		t.Fatalf("idle reader after the cut: %v", err)
	}
	if err := idle.MoveTo(0); err != nil {
		t.Fatal(err)
	}
	var again verifier
	_, err = idle.Read(again.handle, 0)
	var re *domain.ReadError
	if again.err != nil || again.next != j || !errors.As(err, &re) || re.Err != domain.ErrTruncated || re.Position != 8+j*112 {
		t.Fatalf("replay after idling: %d records (bad: %v), then %v; want %d records, then ErrTruncated at %d", again.next, again.err, err, j, 8+j*112)
	}
}

// faultProcess runs a reader that meets a file cut short under its
// mapping outside Read, in a process of its own because the fault may
// crash it. It prints its verdict, "end SENTINEL: ERROR", if it lives.
// envScenario says what it does:
//   - "idle": it writes a channel (guarded writer), follows it to the end
//     with long sleeps, and while the reader sleeps cuts the file below
//     the reader's position and closes the writer, so that the reader
//     wakes up to a writer gone and a file cut;
//   - "moveto": it writes and closes a channel, opens a reader, cuts the
//     file and moves the reader to a position past the cut;
//   - "follow": it follows the channel under envRoot, written by another
//     process, to its end.
func faultProcess() error {
	root := os.Getenv(envRoot)
	vol := mmap.NewVolume(root)
	h, err := cutHeader()
	if err != nil {
		return err
	}
	scenario := os.Getenv(envScenario)
	var w *domain.Writer[[]byte]
	const n = 3000 // records of 112 bytes: 336,008 bytes
	if scenario != "follow" {
		if w, err = domain.Create(vol, h, codecs.Raw{}, domain.WithFaultGuard()); err != nil {
			return err
		}
		rng := rand.New(rand.NewPCG(9, 9))
		buf := make([]byte, 0, cutMaxMsg+8)
		for seq := range uint64(n) {
			buf = makeRecord(buf, seq, 84, rng)
			if _, err := w.Write(buf); err != nil {
				return err
			}
		}
	}
	const cut = domain.DataOffset + 8 + 100*112 + 50 // inside record 100
	var end error
	switch scenario {
	case "idle":
		sleepy := domain.Wait{MinSleep: 300 * time.Millisecond, MaxSleep: 300 * time.Millisecond}
		r, err := domain.Open(vol, cutID, domain.WithWait(sleepy))
		if err != nil {
			return err
		}
		var got atomic.Uint64
		done := make(chan error, 1)
		go func() {
			done <- r.Follow(context.Background(), func(domain.Record) error { got.Add(1); return nil })
		}()
		for got.Load() < n {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond) // the reader is asleep in Follow now
		if err := os.Truncate(vol.Path(cutID), cut); err != nil {
			return err
		}
		w.Close() // ErrTruncated; the writer is gone
		end = <-done
	case "moveto":
		if err := w.Close(); err != nil {
			return err
		}
		r, err := domain.Open(vol, cutID)
		if err != nil {
			return err
		}
		if err := os.Truncate(vol.Path(cutID), cut); err != nil {
			return err
		}
		end = r.MoveTo(8 + 2000*112)
	case "follow":
		// Sleeps longer than the writer takes to die of the cut (a Go
		// crash prints every goroutine first): the reader is most likely
		// asleep when the writer dies.
		sleepy := domain.Wait{MinSleep: 50 * time.Millisecond, MaxSleep: 50 * time.Millisecond}
		r, err := domain.Open(vol, cutID, domain.WithWait(sleepy))
		if err != nil {
			return err
		}
		say("ready")
		var v verifier
		end = r.Follow(context.Background(), v.handle)
		if v.err != nil {
			end = v.err
		}
	default:
		return fmt.Errorf("unknown scenario %q", scenario)
	}
	say("%send %s: %v", verdictPrefix, sentinel(end), end)
	return nil
}

// faultVerdict runs faultProcess in scenario and returns its verdict, or
// what killed it.
func faultVerdict(t *testing.T, p *helper) string {
	t.Helper()
	exited, err := p.waitTimeout(followDeadline)
	if v, ok := p.verdict(); ok && exited && err == nil {
		return v
	}
	stderr := p.stderr.String()
	if i := strings.Index(stderr, "\ngoroutine "); i > 0 {
		stderr = stderr[:i]
	}
	return fmt.Sprintf("process died (%v): %s", err, stderr)
}

// TestFollowSurvivesCutWhenWriterGone: during one of Follow's sleeps the
// file is cut below its position and the writer goes away (it closes, or,
// unguarded, dies of the cut). After the sleep Follow finds the writer
// gone and looks at its position, in memory the cut unmapped: it must end
// with ErrTruncated, not crash (it once did: that look was unguarded).
func TestFollowSurvivesCutWhenWriterGone(t *testing.T) {
	t.Run("writer-closes-while-reader-sleeps", func(t *testing.T) {
		p := startHelper(t, "fault", envRoot+"="+t.TempDir(), envScenario+"=idle")
		if v := faultVerdict(t, p); !strings.HasPrefix(v, "end truncated") {
			t.Fatalf("reader: %s; want ErrTruncated", v)
		}
	})
	t.Run("unguarded-writer-process-dies", func(t *testing.T) {
		// The writer and the reader each in a process of their own; this
		// process cuts the file. The reader is most likely asleep when the
		// writer dies, but that is luck: try a few times.
		crashes := 0
		const tries = 6
		for i := range tries {
			root := shmRoot(t)
			vol := mmap.NewVolume(root)
			wp := startHelper(t, "cut-writer", envRoot+"="+root)
			select {
			case <-wp.ready:
			case <-time.After(followDeadline):
				t.Fatalf("writer process never ready: %s", wp.describe())
			}
			rp := startHelper(t, "fault", envRoot+"="+root, envScenario+"=follow")
			select {
			case <-rp.ready:
			case <-time.After(followDeadline):
				t.Fatalf("reader process never ready: %s", rp.describe())
			}
			r, err := domain.Open(vol, cutID)
			if err != nil {
				t.Fatal(err)
			}
			var v verifier
			for v.lastPos < cutAfter {
				if _, err := r.Read(v.handle, 0); !errors.Is(err, domain.ErrNothingYet) || v.err != nil {
					t.Fatalf("%v, %v", err, v.err)
				}
				time.Sleep(time.Millisecond)
			}
			r.Close()
			if err := os.Truncate(vol.Path(cutID), int64(domain.DataOffset+v.lastPos/2+3)); err != nil {
				t.Fatal(err)
			}
			verdict := faultVerdict(t, rp)
			wp.kill()
			t.Logf("try %d: reader %s", i, verdict)
			if !strings.HasPrefix(verdict, "end truncated") {
				crashes++
			}
		}
		if crashes > 0 {
			t.Fatalf("%d of %d readers did not end with ErrTruncated", crashes, tries)
		}
	})
}

// TestMoveToSurvivesCutFile: MoveTo past a cut made under the reader's
// mapping walks records in unmapped memory; it must return an error, not
// crash (it once did: the walk was unguarded).
func TestMoveToSurvivesCutFile(t *testing.T) {
	p := startHelper(t, "fault", envRoot+"="+t.TempDir(), envScenario+"=moveto")
	if v := faultVerdict(t, p); !strings.HasPrefix(v, "end ") || strings.HasPrefix(v, "end nil") {
		t.Fatalf("MoveTo past the cut: %s; want an error", v)
	}
}
