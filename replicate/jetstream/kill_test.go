//go:build linux

package jetstream_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/replicate/jetstream"
)

// The environment of a child process: what it runs and against what.
const (
	childMode = "KEKBIT_JS_CHILD" // "replicate" or "mirror"
	childURL  = "KEKBIT_JS_URL"
	childRoot = "KEKBIT_JS_ROOT"
	childID   = "KEKBIT_JS_ID"
	// childStream names the stream of "mirror-journal".
	childStream = "KEKBIT_JS_STREAM"
)

// TestChildProcess is not a test: it is the body of the processes the
// kill tests start and SIGKILL (the test binary run again with
// KEKBIT_JS_CHILD set).
func TestChildProcess(t *testing.T) {
	mode := os.Getenv(childMode)
	if mode == "" {
		t.Skip("run by the kill tests")
	}
	id, _ := strconv.ParseUint(os.Getenv(childID), 10, 64)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var err error
	switch mode {
	case "replicate":
		err = jetstream.Replicate(ctx, jetstream.ReplicateConfig{Volume: mmap.NewVolume(os.Getenv(childRoot)), ChannelID: id, URL: os.Getenv(childURL)})
	case "mirror":
		err = jetstream.Mirror(ctx, jetstream.MirrorConfig{Volume: mmap.NewVolume(os.Getenv(childRoot)), Stream: jetstream.StreamName(id), URL: os.Getenv(childURL)})
	case "replicate-journal":
		err = jetstream.ReplicateJournal(ctx, jetstream.ReplicateJournalConfig{ReplicateConfig: jetstream.ReplicateConfig{Volume: mmap.NewVolume(os.Getenv(childRoot)), URL: os.Getenv(childURL)}})
	case "mirror-journal":
		err = jetstream.MirrorJournal(ctx, jetstream.MirrorJournalConfig{MirrorConfig: jetstream.MirrorConfig{Volume: mmap.NewVolume(os.Getenv(childRoot)), Stream: os.Getenv(childStream), URL: os.Getenv(childURL)}})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(3)
	}
	os.Exit(0)
}

// startChild starts the test binary as a replicator or mirror process.
func startChild(t *testing.T, mode, url, root string, id uint64, env ...string) *exec.Cmd {
	t.Helper()
	cmd, err := startChildProcess(mode, url, root, id, env...)
	if err != nil {
		t.Fatal(err)
	}
	return cmd
}

func startChildProcess(mode, url, root string, id uint64, env ...string) (*exec.Cmd, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), childMode+"="+mode, childURL+"="+url, childRoot+"="+root, childID+"="+strconv.FormatUint(id, 10), "KEKBIT_LONG=")
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = os.Stderr
	return cmd, cmd.Start()
}

// killRounds starts kills child processes one after the other, each
// SIGKILLed after a random time; one that ends on its own is an error.
// It may run on a goroutine of its own: it reports through logf and its
// error.
func killRounds(kills int, maxLife time.Duration, mode, url, root string, id uint64, rng *rand.Rand, logf func(string, ...any), progress func() string, env ...string) error {
	for k := range kills {
		life := time.Duration(rng.Int64N(int64(maxLife)))
		cmd, err := startChildProcess(mode, url, root, id, env...)
		if err != nil {
			return err
		}
		time.Sleep(life)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return err
		}
		err = cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != -1 {
			return fmt.Errorf("%s kill %d: the child ended on its own: %v", mode, k, err)
		}
		logf("%s kill %d after %v: %s", mode, k, life.Round(time.Millisecond), progress())
	}
	return nil
}

// killAtRandom starts kills child processes one after the other, each
// SIGKILLed after a random time (none may end on its own), then calls
// finish and starts one that must run to its end.
func killAtRandom(t *testing.T, kills int, maxLife time.Duration, mode, url, root string, id uint64, rng *rand.Rand, finish func(), progress func() string, env ...string) {
	t.Helper()
	if err := killRounds(kills, maxLife, mode, url, root, id, rng, t.Logf, progress, env...); err != nil {
		t.Fatal(err)
	}
	finish()
	runChild(t, mode, url, root, id, env...)
}

// runChild starts a child process that must run to its end.
func runChild(t *testing.T, mode, url, root string, id uint64, env ...string) {
	t.Helper()
	cmd := startChild(t, mode, url, root, id, env...)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the last %s process: %v", mode, err)
		}
	case <-time.After(3 * time.Minute):
		cmd.Process.Kill()
		t.Fatalf("the last %s process did not finish", mode)
	}
}

// TestReplicatorKilled kills the replicator process at 20 random moments
// while the channel is being written, then lets one run to the end: the
// stream holds every record exactly once, in order.
func TestReplicatorKilled(t *testing.T) {
	if os.Getenv(childMode) != "" {
		t.Skip("in a child")
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	_, url := startServer(t)
	root := shmDir(t)
	const id = 0x51
	n := 500_000
	w, path := newChannel(t, root, id, n)
	finish := make(chan struct{})
	wrote := pacedWriter(w, n, finish)
	// The writer goes on while replicators come and go.
	streamLast := func() string {
		nc, err := nats.Connect(url)
		if err != nil {
			return err.Error()
		}
		defer nc.Close()
		js, _ := natsjs.New(nc)
		s, err := js.Stream(context.Background(), jetstream.StreamName(id))
		if err != nil {
			return err.Error()
		}
		return fmt.Sprintf("the stream's last sequence is %d", s.CachedInfo().State.LastSeq)
	}
	killAtRandom(t, 20, 400*time.Millisecond, "replicate", url, root, id, rng, func() { close(finish) }, streamLast)
	written, ok := (<-wrote).(int)
	if !ok {
		t.Fatal("writer failed")
	}
	got := checkStream(t, url, jetstream.StreamName(id), jetstream.Subject(id), path)
	if got != written {
		t.Fatalf("%d records in the stream, %d written", got, written)
	}
	t.Logf("%d records, each once in the stream", got)
}

// TestMirrorKilled kills the mirror process at random moments: each new
// one resumes the mirror channel, and the last one leaves it identical to
// the source.
func TestMirrorKilled(t *testing.T) {
	if os.Getenv(childMode) != "" {
		t.Skip("in a child")
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	_, url := startServer(t)
	src, dst := shmDir(t), shmDir(t)
	const id = 0x52
	n := 500_000
	w, path := newChannel(t, src, id, n)
	finish := make(chan struct{})
	wrote := pacedWriter(w, n, finish)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	replicated := make(chan error, 1)
	go func() {
		replicated <- jetstream.Replicate(ctx, jetstream.ReplicateConfig{Volume: mmap.NewVolume(src), ChannelID: id, URL: url})
	}()
	mirrored := func() string {
		st, err := mmap.OpenFile(mmap.ChannelPath(dst, id))
		if err != nil {
			return "no mirror channel yet"
		}
		r, err := domain.NewReader(st)
		if err != nil {
			st.Close()
			return err.Error()
		}
		defer r.Close()
		n := 0
		r.Read(func(domain.Record) error { n++; return nil }, 0)
		return fmt.Sprintf("the mirror holds %d records", n)
	}
	killAtRandom(t, 10, 500*time.Millisecond, "mirror", url, dst, id, rng, func() { close(finish) }, mirrored)
	if _, ok := (<-wrote).(int); !ok {
		t.Fatal("writer failed")
	}
	if err := <-replicated; err != nil {
		t.Fatal(err)
	}
	got := sameChannels(t, path, mmap.ChannelPath(dst, id))
	t.Logf("%d records, the mirror identical", got)
}
