package kekbit_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit"
	"github.com/kekbit-go/kekbit/adapters/file"
	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/internal/testdir"
	"github.com/kekbit-go/kekbit/ports"
	"github.com/spf13/afero"
)

// restartRecords is how many records the restart tests write; restarts is
// how many times their consumer is stopped before it runs to the end.
const (
	restartRecords = 3000
	restarts       = 100
	restartChannel = 0x5e57
)

// seqPayload is the payload of record seq: its number, then filler so that
// records differ in size.
func seqPayload(seq uint64) []byte {
	p := make([]byte, 8+seq%40)
	binary.LittleEndian.PutUint64(p, seq)
	for i := 8; i < len(p); i++ {
		p[i] = byte(seq) + byte(i)
	}
	return p
}

// seqOf checks a payload made by seqPayload and returns its number.
func seqOf(p []byte) (uint64, error) {
	if len(p) < 8 {
		return 0, fmt.Errorf("payload of %d bytes", len(p))
	}
	seq := binary.LittleEndian.Uint64(p)
	if want := seqPayload(seq); string(want) != string(p) {
		return 0, fmt.Errorf("payload of record %d damaged", seq)
	}
	return seq, nil
}

func restartHeader(t testing.TB) kekbit.Header {
	h, err := kekbit.NewHeader(kekbit.Hints{WriterID: 7, ChannelID: restartChannel, Capacity: 1 << 18, MaxMsgLen: 64, Timeout: 60, TickUnit: kekbit.Secs})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// writeLive writes the restart records into a new channel of vol at a
// pace, then closes it; it returns when the channel exists, and the
// channel's end on done.
func writeLive(t *testing.T, vol ports.Volume, pause time.Duration) (done <-chan error) {
	w, err := kekbit.Create(vol, restartHeader(t), codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan error, 1)
	go func() {
		for seq := range uint64(restartRecords) {
			if _, err := w.Write(seqPayload(seq)); err != nil {
				ch <- err
				return
			}
			if seq%20 == 0 {
				w.Heartbeat()
				time.Sleep(pause)
			}
		}
		ch <- w.Close()
	}()
	return ch
}

// errStop is what the in-process consumer's handler returns to stop.
var errStop = errors.New("consumer stopped")

// TestRestartResumesExactlyOnce: a consumer stores the Next of every record
// it handles, is stopped at random points 100 times (a handler error, a
// break out of an iterator, a cancelled Follow), and resumes with MoveTo;
// over all runs it handles every record exactly once, in order, on every
// backend, while the writer is still writing.
func TestRestartResumesExactlyOnce(t *testing.T) {
	backends := map[string]func(t *testing.T) ports.Volume{
		"memory":        func(*testing.T) ports.Volume { return memory.NewVolume() },
		"file/MemMapFs": func(*testing.T) ports.Volume { return file.NewVolume(afero.NewMemMapFs(), "/ch") },
		"file/OsFs":     func(t *testing.T) ports.Volume { return file.NewVolume(afero.NewOsFs(), testdir.New(t)) },
		"mmap":          func(t *testing.T) ports.Volume { return mmap.NewVolume(testdir.New(t)) },
	}
	for name, newVolume := range backends {
		t.Run(name, func(t *testing.T) {
			vol := newVolume(t)
			done := writeLive(t, vol, 50*time.Microsecond)
			rng := rand.New(rand.NewPCG(1, uint64(len(name))))
			var stored uint64 // the Next of the last record handled
			var handled []uint64
			handle := func(rec kekbit.Record) error {
				seq, err := seqOf(rec.Payload)
				if err != nil {
					return err
				}
				handled = append(handled, seq)
				stored = rec.Next()
				return nil
			}
			for run := 0; ; run++ {
				last := run == restarts
				r, err := kekbit.Open(vol, restartChannel, kekbit.WithWait(kekbit.Wait{MinSleep: 10 * time.Microsecond, MaxSleep: time.Millisecond}))
				if err != nil {
					t.Fatal(err)
				}
				if err := r.MoveTo(stored); err != nil {
					t.Fatalf("run %d: MoveTo(%d): %v", run, stored, err)
				}
				quota := 1 + rng.IntN(60)
				ctx, cancel := context.WithCancel(context.Background())
				switch {
				case last:
					err = r.Follow(ctx, handle)
				case run%3 == 0: // the handler says stop
					err = r.Follow(ctx, func(rec kekbit.Record) error {
						if quota == 0 {
							return errStop
						}
						quota--
						return handle(rec)
					})
					if err == errStop && r.Position() != stored {
						// The refused record was not handled: the reader
						// stands after it, the consumer's store does not.
						err = nil
					}
				case run%3 == 1: // the loop body breaks out
					for rec := range r.FollowRecords(ctx) {
						if err := handle(rec); err != nil {
							t.Fatal(err)
						}
						if quota--; quota == 0 {
							break
						}
					}
					err = r.Err()
				default: // the context is cancelled mid-follow
					err = r.Follow(ctx, func(rec kekbit.Record) error {
						if quota--; quota == 0 {
							cancel()
						}
						return handle(rec)
					})
					if errors.Is(err, context.Canceled) {
						err = nil
					}
				}
				cancel()
				r.Close()
				if last {
					if !errors.Is(err, kekbit.ErrClosed) {
						t.Fatalf("last run ended with %v", err)
					}
					break
				}
				if err != nil && !errors.Is(err, kekbit.ErrClosed) {
					t.Fatalf("run %d: %v", run, err)
				}
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			checkExactlyOnce(t, handled)
		})
	}
}

// checkExactlyOnce checks that handled is 0, 1, ..., restartRecords-1.
func checkExactlyOnce(t *testing.T, handled []uint64) {
	t.Helper()
	for i, seq := range handled {
		if seq != uint64(i) {
			t.Fatalf("handled record %d as the %dth (of %d handled): a record repeated or lost", seq, i, len(handled))
		}
	}
	if len(handled) != restartRecords {
		t.Fatalf("handled %d records, want %d", len(handled), restartRecords)
	}
}

// TestRestartConsumerProcess is the consumer process of
// TestRestartAfterKill: it appends "seq next" for each record it handles
// to the log, in one write, and resumes from the last line's next.
func TestRestartConsumerProcess(t *testing.T) {
	root, log := os.Getenv("KEKBIT_RESTART_ROOT"), os.Getenv("KEKBIT_RESTART_LOG")
	if root == "" {
		t.Skip("run by TestRestartAfterKill")
	}
	_, stored, err := readLog(log)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r, err := kekbit.TryShmReader(ctx, root, restartChannel)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.MoveTo(stored); err != nil {
		t.Fatal(err)
	}
	line := make([]byte, 0, 64)
	err = r.Follow(ctx, func(rec kekbit.Record) error {
		seq, err := seqOf(rec.Payload)
		if err != nil {
			return err
		}
		// The record and the position after it go to the log in one
		// write: a kill leaves both or neither.
		line = strconv.AppendUint(line[:0], seq, 10)
		line = append(line, ' ')
		line = strconv.AppendUint(line, rec.Next(), 10)
		line = append(line, '\n')
		_, err = f.Write(line)
		return err
	})
	if !errors.Is(err, kekbit.ErrClosed) {
		t.Fatal(err)
	}
}

// readLog returns the records a consumer logged and the position after the
// last one.
func readLog(path string) (seqs []uint64, next uint64, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		a, b, ok := strings.Cut(sc.Text(), " ")
		seq, err1 := strconv.ParseUint(a, 10, 64)
		n, err2 := strconv.ParseUint(b, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return nil, 0, fmt.Errorf("bad log line %q", sc.Text())
		}
		seqs, next = append(seqs, seq), n
	}
	return seqs, next, sc.Err()
}

// logSize returns the size of the consumer's log, 0 if there is none yet.
func logSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// TestRestartAfterKill: on mmap, the consumer is another process, SIGKILLed
// at a random moment 100 times while the writer writes; each new one
// resumes from the position the last stored. Over all runs every record is
// handled exactly once, in order.
func TestRestartAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 101 processes")
	}
	root := testdir.New(t)
	log := filepath.Join(testdir.New(t), "consumer.log")
	// The writer writes a batch of records while each consumer runs, and
	// closes the channel during the last: so that every consumer but the
	// last is killed with the writer at work, however slowly consumers
	// start (the race detector makes them slow).
	w, err := kekbit.Create(mmap.NewVolume(root), restartHeader(t), codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	batch := uint64(restartRecords / (restarts + 1))
	next := uint64(0)
	writeBatch := func(last bool) <-chan error {
		n := batch
		if last {
			n = restartRecords - next
		}
		done := make(chan error, 1)
		go func() {
			for range n {
				if _, err := w.Write(seqPayload(next)); err != nil {
					done <- err
					return
				}
				if next++; next%7 == 0 {
					w.Heartbeat()
					time.Sleep(50 * time.Microsecond)
				}
			}
			if last {
				done <- w.Close()
				return
			}
			done <- nil
		}()
		return done
	}
	rng := rand.New(rand.NewPCG(2, 3))
	handled, killedMidway := 0, 0 // consumers killed after handling some records, before the end
	for run := 0; run <= restarts; run++ {
		written := writeBatch(run == restarts)
		cmd := exec.Command(os.Args[0], "-test.run=^TestRestartConsumerProcess$")
		cmd.Env = append(os.Environ(), "KEKBIT_RESTART_ROOT="+root, "KEKBIT_RESTART_LOG="+log)
		out := &strings.Builder{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		if run == restarts {
			if err := <-written; err != nil {
				t.Fatal(err)
			}
			if err := <-exited; err != nil {
				t.Fatalf("last consumer: %v\n%s", err, out)
			}
			break
		}
		// Kill it at a random moment after it has handled something (a
		// slow start, under the race detector say, must not make every
		// kill land before the first record), unless it ends first.
		before := logSize(log)
		var err error
		waited := false
		for deadline := time.Now().Add(5 * time.Second); logSize(log) == before && time.Now().Before(deadline) && !waited; {
			select {
			case err = <-exited:
				waited = true
			case <-time.After(200 * time.Microsecond):
			}
		}
		if !waited {
			time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
			cmd.Process.Signal(syscall.SIGKILL)
			err = <-exited
		}
		// Killed, Wait says "signal: killed"; on Windows, where Kill is
		// TerminateProcess, "exit status 1".
		if err != nil && !strings.Contains(err.Error(), "killed") && (waited || runtime.GOOS != "windows") {
			t.Fatalf("consumer %d: %v\n%s", run, err, out)
		}
		if before := handled; err != nil {
			seqs, _, _ := readLog(log)
			if handled = len(seqs); handled > before && handled < restartRecords {
				killedMidway++
			}
		}
		if err := <-written; err != nil {
			t.Fatal(err)
		}
	}
	seqs, _, err := readLog(log)
	if err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, seqs)
	t.Logf("%d of %d consumers were killed midway through the channel", killedMidway, restarts)
	if killedMidway < restarts/2 {
		t.Errorf("only %d of %d consumers were killed midway: the test did not test restarts", killedMidway, restarts)
	}
}
