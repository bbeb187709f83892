//go:build linux

package jetstream_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/replicate/jetstream"
)

// countRecords returns the number of records in the channel file at path,
// -1 if it cannot be read.
func countRecords(path string) int {
	st, err := mmap.OpenFile(path)
	if err != nil {
		return -1
	}
	r, err := domain.NewReader(st)
	if err != nil {
		st.Close()
		return -1
	}
	defer r.Close()
	n := 0
	r.Read(func(domain.Record) error { n++; return nil }, 0)
	return n
}

// TestMirrorResumeAfterIdleMarker stops a mirror, 20 times, right after
// it wrote a record that follows an idle marker at the same position (a
// quiet heartbeating channel: the replicator's idle marker carries the
// heartbeats, then the record comes): by its context in even rounds, by
// SIGKILL of its process in odd ones. Every next mirror resumes, and the
// last leaves the mirror identical to the source.
func TestMirrorResumeAfterIdleMarker(t *testing.T) {
	if os.Getenv(childMode) != "" {
		t.Skip("in a child")
	}
	_, url := startServer(t)
	src, dst := shmDir(t), shmDir(t)
	const id = 0x1530
	const rounds = 20
	w, path := newChannel(t, src, id, rounds+1)
	mirPath := mmap.ChannelPath(dst, id)
	ctx := testCtx(t)
	rep, _ := jetstream.NewReplicator(jetstream.ReplicateConfig{Volume: mmap.NewVolume(src), ChannelID: id, URL: url})
	replicated := make(chan error, 1)
	go func() { replicated <- rep.Run(ctx) }()
	wait := func(what string, ok func() bool, failed <-chan error) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !ok(); {
			select {
			case err := <-failed:
				t.Fatalf("%s: the mirror stopped: %v", what, err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: timed out", what)
			}
			time.Sleep(time.Millisecond)
		}
	}
	resumed := 0
	for round := range rounds {
		// Heartbeats, a pause for the replicator's idle marker to carry
		// them all, then a record at the marker's position.
		for range 5 {
			w.Heartbeat()
			time.Sleep(time.Millisecond)
		}
		time.Sleep(10 * time.Millisecond)
		if _, err := w.Write(payloadOf(round)); err != nil {
			t.Fatal(err)
		}
		wait("the replicator", func() bool { return rep.Stats().Acked == uint64(round+1) }, nil)
		has := func() bool { return countRecords(mirPath) == round+1 }
		if round%2 == 0 {
			mctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() {
				done <- jetstream.Mirror(mctx, jetstream.MirrorConfig{Volume: mmap.NewVolume(dst), Stream: jetstream.StreamName(id), URL: url})
			}()
			wait(fmt.Sprintf("round %d", round), has, done)
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Fatalf("round %d: the mirror ended with %v", round, err)
			}
		} else {
			cmd := startChild(t, "mirror", url, dst, id)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			wait(fmt.Sprintf("round %d", round), has, done)
			cmd.Process.Signal(syscall.SIGKILL)
			var ee *exec.ExitError
			if err := <-done; !errors.As(err, &ee) || ee.ExitCode() != -1 {
				t.Fatalf("round %d: the mirror process ended with %v", round, err)
			}
		}
		if round > 0 {
			resumed++
		}
	}
	w.Close()
	if err := <-replicated; err != nil {
		t.Fatal(err)
	}
	if err := jetstream.Mirror(ctx, jetstream.MirrorConfig{Volume: mmap.NewVolume(dst), Stream: jetstream.StreamName(id), URL: url}); err != nil {
		t.Fatalf("the last mirror: %v", err)
	}
	resumed++
	sameChannels(t, path, mirPath)
	// Every record but the first followed an idle marker at its position.
	shared := 0
	els := readStream(t, url, jetstream.StreamName(id), jetstream.Subject(id))
	for i := 1; i < len(els); i++ {
		if els[i].marker == "" && els[i-1].marker == jetstream.MarkerIdle && els[i-1].pos == els[i].pos {
			shared++
		}
	}
	if shared < rounds-1 {
		t.Fatalf("only %d records follow an idle marker at their position", shared)
	}
	t.Logf("%d of %d mirrors resumed; %d records shared a position with an idle marker", resumed, rounds, shared)
}

// TestMirrorKilledAtRandomWhileStarting SIGKILLs a mirror process at a
// random moment of its start, 30 times, each into a fresh folder, with a
// large channel so that its create (reserving 32 MiB) takes a while; a
// mirror started after each kill finishes, identical to the source,
// whatever the kill left.
func TestMirrorKilledAtRandomWhileStarting(t *testing.T) {
	if os.Getenv(childMode) != "" {
		t.Skip("in a child")
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 3))
	_, url := startServer(t)
	src := shmDir(t)
	const id = 0x1541
	w, err := domain.Create(mmap.NewVolume(src), testHeader(t, id, 32<<20, 100), codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	path := mmap.ChannelPath(src, id)
	writeRecords(w, 0, 200, false)
	w.Close()
	ctx := testCtx(t)
	if err := jetstream.Replicate(ctx, jetstream.ReplicateConfig{Volume: mmap.NewVolume(src), ChannelID: id, URL: url}); err != nil {
		t.Fatal(err)
	}
	const rounds = 30
	left := map[string]int{}
	for round := range rounds {
		dst := shmDir(t)
		mir := mmap.ChannelPath(dst, id)
		cmd := startChild(t, "mirror", url, dst, id)
		time.Sleep(time.Duration(rng.Int64N(int64(120 * time.Millisecond))))
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		_, lockErr := os.Stat(mmap.LockPath(mir))
		fi, fileErr := os.Stat(mir)
		switch {
		case lockErr == nil && fileErr == nil:
			left[fmt.Sprintf("lock file and a channel file of %d bytes", fi.Size())]++
		case lockErr == nil:
			left["lock file only"]++
		case fileErr == nil:
			left["a ready channel"]++
		default:
			left["nothing"]++
		}
		if err := jetstream.Mirror(ctx, jetstream.MirrorConfig{Volume: mmap.NewVolume(dst), Stream: jetstream.StreamName(id), URL: url}); err != nil {
			t.Fatalf("round %d: the mirror after the kill: %v", round, err)
		}
		sameChannels(t, path, mir)
		os.RemoveAll(dst)
	}
	t.Logf("%d of %d finished after a kill; the kills left %v", rounds, rounds, left)
}
