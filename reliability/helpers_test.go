//go:build linux

package reliability_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/domain"
)

var longFlag = flag.Bool("long", false, "run the long variants (also KEKBIT_LONG=1)")

// long reports whether the long variants are asked for.
func long() bool { return *longFlag || os.Getenv("KEKBIT_LONG") == "1" }

// Environment of the helper processes: the test binary re-executed with
// -test.run=^TestHelperProcess$ and helperEnv naming its role.
const (
	helperEnv   = "KEKBIT_RELIABILITY_HELPER"
	envRoot     = "KEKBIT_RELIABILITY_ROOT"
	envID       = "KEKBIT_RELIABILITY_ID"
	envSeed     = "KEKBIT_RELIABILITY_SEED"
	envCapacity = "KEKBIT_RELIABILITY_CAPACITY"
	envPath     = "KEKBIT_RELIABILITY_PATH"
	envGuard    = "KEKBIT_RELIABILITY_GUARD"
	envScenario = "KEKBIT_RELIABILITY_SCENARIO"
)

// verdictPrefix starts the line a helper process reports its result on.
const verdictPrefix = "VERDICT "

// fastWait is the wait strategy of the followers: little spinning (the
// machine may have two cores), short sleeps.
var fastWait = domain.Wait{Spins: 16, Yields: 16, MinSleep: 50 * time.Microsecond, MaxSleep: 2 * time.Millisecond}

// followDeadline bounds every follow: far longer than any read should take
// on a loaded machine, so that reaching it means a hang.
const followDeadline = 60 * time.Second

// Records of the killed writer: an 8-byte little-endian sequence number,
// a body of random length and content, and the FNV-64a of both, 8 bytes
// little endian. The shortest record is 16 bytes.
const recordOverhead = 16

// makeRecord appends to dst the record with sequence number seq and a body
// of n random bytes.
func makeRecord(dst []byte, seq uint64, n int, rng *rand.Rand) []byte {
	dst = binary.LittleEndian.AppendUint64(dst[:0], seq)
	for range n {
		dst = append(dst, byte(rng.Uint32()))
	}
	h := fnv.New64a()
	h.Write(dst)
	return binary.LittleEndian.AppendUint64(dst, h.Sum64())
}

// checkRecord returns the sequence number of record p, or an error if it
// is too short or its checksum is wrong.
func checkRecord(p []byte) (uint64, error) {
	if len(p) < recordOverhead {
		return 0, fmt.Errorf("record of %d bytes, shorter than %d", len(p), recordOverhead)
	}
	h := fnv.New64a()
	h.Write(p[:len(p)-8])
	if got, want := binary.LittleEndian.Uint64(p[len(p)-8:]), h.Sum64(); got != want {
		return 0, fmt.Errorf("record of %d bytes (seq field %d): checksum %#x, want %#x",
			len(p), binary.LittleEndian.Uint64(p), got, want)
	}
	return binary.LittleEndian.Uint64(p), nil
}

// verifier checks that records arrive whole and in sequence from 0. It
// keeps the first problem; its handler never stops the read.
type verifier struct {
	next    uint64 // sequence number expected next = records verified
	lastPos uint64
	err     error
}

func (v *verifier) handle(rec domain.Record) error {
	v.check(rec.Position, rec.Payload)
	return nil
}

// check checks the record at pos with payload p.
func (v *verifier) check(pos uint64, p []byte) {
	if v.err != nil {
		return
	}
	seq, err := checkRecord(p)
	switch {
	case err != nil:
		v.err = fmt.Errorf("record at position %d, after %d good ones: %w", pos, v.next, err)
	case seq != v.next:
		v.err = fmt.Errorf("record at position %d: sequence number %d, want %d", pos, seq, v.next)
	case v.next > 0 && pos <= v.lastPos:
		v.err = fmt.Errorf("record %d at position %d, not after %d", seq, pos, v.lastPos)
	default:
		v.next++
		v.lastPos = pos
	}
}

// helper is a re-executed test binary in some role, with its standard
// output read line by line.
type helper struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	stdin  io.WriteCloser

	mu    sync.Mutex
	lines []string
	ready chan struct{} // closed when the helper prints "ready"
	done  chan struct{} // closed when its standard output is closed
}

// startHelper starts the test binary as helper role with the extra
// environment env.
func startHelper(t testing.TB, role string, env ...string) *helper {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+role,
		"GORACE=atexit_sleep_ms=0") // a -race binary otherwise sleeps 1 s on exit
	cmd.Env = append(cmd.Env, env...)
	h := &helper{cmd: cmd, ready: make(chan struct{}), done: make(chan struct{})}
	cmd.Stderr = &h.stderr
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = pw
	if h.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close() // the child holds the only write end now
	go func() {
		defer close(h.done)
		defer pr.Close()
		sc := bufio.NewScanner(pr)
		readySeen := false
		for sc.Scan() {
			line := sc.Text()
			h.mu.Lock()
			h.lines = append(h.lines, line)
			h.mu.Unlock()
			if line == "ready" && !readySeen {
				readySeen = true
				close(h.ready)
			}
		}
	}()
	t.Cleanup(func() { h.kill() })
	return h
}

// kill SIGKILLs the helper (if it still runs) and waits for it.
func (h *helper) kill() {
	if h.cmd.ProcessState == nil {
		h.cmd.Process.Kill()
		h.wait()
	}
}

// wait waits for the helper to exit and its output to be read.
func (h *helper) wait() error {
	err := h.cmd.Wait()
	<-h.done
	return err
}

// waitTimeout waits up to d for the helper to exit on its own, then kills
// it. It reports whether it exited on its own.
func (h *helper) waitTimeout(d time.Duration) (exited bool, err error) {
	ch := make(chan error, 1)
	go func() { ch <- h.wait() }()
	select {
	case err := <-ch:
		return true, err
	case <-time.After(d):
		h.cmd.Process.Kill()
		return false, <-ch
	}
}

// output returns the lines printed so far.
func (h *helper) output() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.lines...)
}

// verdict returns the helper's verdict line without its prefix.
func (h *helper) verdict() (string, bool) {
	for _, l := range h.output() {
		if v, ok := strings.CutPrefix(l, verdictPrefix); ok {
			return v, true
		}
	}
	return "", false
}

// describe returns what the helper printed, for failure messages.
func (h *helper) describe() string {
	return fmt.Sprintf("stdout %q, stderr %q", h.output(), h.stderr.String())
}

// TestHelperProcess is not a test: it is the body of the helper processes,
// chosen by the KEKBIT_RELIABILITY_HELPER environment variable.
func TestHelperProcess(t *testing.T) {
	role := os.Getenv(helperEnv)
	var err error
	switch role {
	case "":
		t.Skip("helper process of the reliability tests")
	case "writer":
		err = writerProcess()
	case "reader":
		err = readerProcess()
	case "truncate":
		err = truncateProcess()
	case "create":
		err = createProcess()
	case "refused-loop":
		err = refusedLoopProcess()
	case "cut-writer":
		err = cutWriterProcess()
	case "fault":
		err = faultProcess()
	case "env-writer":
		err = envWriterProcess()
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s process: %v\n", role, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// envUint returns the environment variable name as an unsigned integer.
func envUint(name string) (uint64, error) {
	v, err := strconv.ParseUint(os.Getenv(name), 0, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	return v, nil
}

// say prints one line to standard output, unbuffered: a process killed
// right after has still said it.
func say(format string, args ...any) {
	os.Stdout.WriteString(fmt.Sprintf(format, args...) + "\n")
}

// sentinel names the sentinel error err matches, for verdicts and logs.
func sentinel(err error) string {
	for _, s := range []struct {
		err  error
		name string
	}{
		{domain.ErrWriterGone, "writer-gone"},
		{domain.ErrTimeout, "timeout"},
		{domain.ErrClosed, "closed"},
		{domain.ErrChannelFull, "full"},
		{domain.ErrCorrupt, "corrupt"},
		{domain.ErrTruncated, "truncated"},
		{domain.ErrNothingYet, "nothing-yet"},
	} {
		if errors.Is(err, s.err) {
			return s.name
		}
	}
	if err == nil {
		return "nil"
	}
	return "other(" + err.Error() + ")"
}
