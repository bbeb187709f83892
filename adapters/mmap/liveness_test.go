//go:build linux

package mmap_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/internal/layout"
	"github.com/kekbit-go/kekbit/ports"
)

// envLivenessRoot makes the test binary the writer process of
// TestReaderLocksDoNotFakeLiveness.
const envLivenessRoot = "KEKBIT_LIVENESS_ROOT"

// livenessID is the channel that writer process writes.
const livenessID = 0x11

// TestLivenessWriterProcess is the writer process of
// TestReaderLocksDoNotFakeLiveness: it creates the channel, with a
// timeout of an hour, writes a record, says "ready" and waits to be
// killed.
func TestLivenessWriterProcess(t *testing.T) {
	root := os.Getenv(envLivenessRoot)
	if root == "" {
		t.Skip("run by TestReaderLocksDoNotFakeLiveness")
	}
	h, err := domain.NewHeader(domain.Hints{ChannelID: livenessID, Capacity: 1 << 16, MaxMsgLen: 64, Timeout: 3600, TickUnit: domain.Secs})
	if err == nil {
		var w *domain.Writer[[]byte]
		if w, err = domain.Create(mmap.NewVolume(root), h, codecs.Raw{}); err == nil {
			_, err = w.Write([]byte("before the kill"))
		}
	}
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Println("ready")
	time.Sleep(time.Hour)
}

// TestReaderLocksDoNotFakeLiveness: a reader that holds a lock on the
// channel file, which it may open read-only only (flock's shared or
// exclusive lock, or an open file description read lock), does not keep a
// killed writer alive: a follower sees the writer gone at once (not after
// the hour the header's timeout says), WriterAlive says false, and
// RemoveAbandoned and OpenForWrite accept the channel (OpenForWrite, which
// a read lock keeps out, says so with ErrChannelNotReady, not
// ErrWriterAlive).
func TestReaderLocksDoNotFakeLiveness(t *testing.T) {
	for _, lock := range []string{"flock shared", "flock exclusive", "read lock"} {
		t.Run(lock, func(t *testing.T) {
			root := t.TempDir()
			vol := mmap.NewVolume(root)
			cmd := exec.Command(os.Args[0], "-test.run=^TestLivenessWriterProcess$")
			cmd.Env = append(os.Environ(), envLivenessRoot+"="+root, "GORACE=atexit_sleep_ms=0")
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { cmd.Process.Kill(); cmd.Wait() }()
			if line, _ := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
				t.Fatalf("writer process said %q", line)
			}
			r, err := domain.Open(vol, livenessID)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if alive, err := r.WriterAlive(); !alive || err != nil {
				t.Fatalf("WriterAlive while the writer runs = %v, %v", alive, err)
			}
			// The faker opens the channel read-only, as any reader can.
			faker, err := os.Open(vol.Path(livenessID))
			if err != nil {
				t.Fatal(err)
			}
			defer faker.Close()
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()
			// The writer's locks kept the faker's out while it lived;
			// now it takes one.
			switch lock {
			case "flock shared":
				err = unix.Flock(int(faker.Fd()), unix.LOCK_SH|unix.LOCK_NB)
			case "flock exclusive":
				err = unix.Flock(int(faker.Fd()), unix.LOCK_EX|unix.LOCK_NB)
			case "read lock":
				err = (layout.OSFile{File: faker}).TryRLock()
			}
			if err != nil {
				t.Fatalf("%s after the kill: %v", lock, err)
			}
			killed := time.Now()
			followed := make(chan error, 1)
			go func() {
				followed <- r.Follow(context.Background(), func(domain.Record) error { return nil })
			}()
			select {
			case err := <-followed:
				if !errors.Is(err, domain.ErrWriterGone) {
					t.Errorf("Follow ended with %v, want ErrWriterGone", err)
				}
				t.Logf("%s held: the follower saw the writer gone %v after it started", lock, time.Since(killed).Round(time.Microsecond))
			case <-time.After(10 * time.Second):
				t.Fatalf("%s held: the follower still waits 10 s after the writer was killed", lock)
			}
			if alive, err := r.WriterAlive(); alive || err != nil {
				t.Errorf("WriterAlive after the kill = %v, %v", alive, err)
			}
			st, err := vol.OpenForWrite(livenessID)
			if lock == "read lock" {
				if !errors.Is(err, ports.ErrChannelNotReady) || errors.Is(err, ports.ErrWriterAlive) {
					t.Errorf("OpenForWrite while a reader holds a read lock: %v, want ErrChannelNotReady", err)
				}
			} else if err != nil {
				t.Errorf("OpenForWrite after the kill: %v", err)
			} else {
				st.Close()
			}
			if err := vol.RemoveAbandoned(livenessID); err != nil {
				t.Errorf("RemoveAbandoned after the kill: %v", err)
			}
		})
	}
}
