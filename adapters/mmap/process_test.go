//go:build linux

package mmap_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/internal/channeltest"
	"github.com/kekbit-go/kekbit/ports"
)

const (
	helperEnv     = "KEKBIT_MMAP_TEST_HELPER"
	helperRootEnv = "KEKBIT_MMAP_TEST_ROOT"
	helperNEnv    = "KEKBIT_MMAP_TEST_N"
	processID     = 0xCAFE_0000_0001
)

// TestHelperProcess is the writer process of TestCrossProcess, run by the
// test binary re-executing itself. It creates the channel, writes N
// records, waits for its standard input to close, then closes the channel.
func TestHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "writer" {
		t.Skip("helper process for TestCrossProcess")
	}
	if err := writerProcess(); err != nil {
		fmt.Fprintln(os.Stderr, "writer process:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func writerProcess() error {
	n, err := strconv.ParseUint(os.Getenv(helperNEnv), 10, 64)
	if err != nil {
		return err
	}
	return channeltest.WriterProcess(mmap.NewVolume(os.Getenv(helperRootEnv)), processID, 2<<20, n, os.Stdin)
}

// TestCrossProcess follows a channel written live by another process: every
// record arrives whole and in order, the writer is seen alive while it
// runs, a second writer is refused meanwhile, and the writer is seen gone
// once it closed the channel or was killed without closing it.
func TestCrossProcess(t *testing.T) {
	t.Run("closed", func(t *testing.T) { crossProcess(t, false) })
	t.Run("killed", func(t *testing.T) { crossProcess(t, true) })
}

func crossProcess(t *testing.T, kill bool) {
	const n = 20_000
	root := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), helperEnv+"=writer", helperRootEnv+"="+root, helperNEnv+"="+strconv.Itoa(n),
		"GORACE=atexit_sleep_ms=0") // a -race binary otherwise sleeps 1 s on exit
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := false
	defer func() {
		if !done {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()

	deadline := time.Now().Add(10 * time.Second)
	vol := mmap.NewVolume(root)
	var st ports.Storage
	for {
		st, err = vol.Open(processID)
		if err == nil {
			break
		}
		if !errors.Is(err, ports.ErrChannelNotFound) && !errors.Is(err, ports.ErrChannelNotReady) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("channel never became ready: %v; writer: %s", err, stderr.String())
		}
		time.Sleep(time.Millisecond)
	}
	r, err := domain.NewReader(st)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	var next uint64
	check := func(_ uint64, p []byte) {
		if next >= n || !bytes.Equal(p, channeltest.Record(next)) {
			t.Fatalf("record %d: got %x, want %x", next, p, channeltest.Record(next))
		}
		next++
	}
	// follow reads until the reader has all n records or the channel ends.
	follow := func() error {
		for {
			_, err := r.Read(check, 0)
			if !errors.Is(err, domain.ErrNothingYet) || next >= n {
				return err
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%d records after the deadline: %w", next, err)
			}
			time.Sleep(50 * time.Microsecond)
		}
	}
	if err := follow(); !errors.Is(err, domain.ErrNothingYet) || next != n {
		t.Fatalf("followed %d records, ended with %v; want %d, ErrNothingYet", next, err, n)
	}

	s := st.(*mmap.Storage)
	if alive, err := s.WriterAlive(); !alive || err != nil {
		t.Fatalf("WriterAlive() = %v, %v while the writer process runs", alive, err)
	}
	if _, err := domain.Create(vol, r.Header(), codecs.Raw{}); !errors.Is(err, ports.ErrChannelExists) {
		t.Fatalf("second writer in another process: %v, want ErrChannelExists", err)
	}

	done = true
	wantEnd := domain.ErrClosed
	if kill {
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		wantEnd = domain.ErrNothingYet // no close mark: the writer never closed
	} else {
		stdin.Close() // the writer closes the channel and exits
		if err := cmd.Wait(); err != nil {
			t.Fatalf("writer process: %v; %s", err, stderr.String())
		}
	}
	if _, err := r.Read(check, 0); !errors.Is(err, wantEnd) || next != n {
		t.Fatalf("read %d records, ended with %v; want %d, %v", next, err, n, wantEnd)
	}
	if alive, err := s.WriterAlive(); alive || err != nil {
		t.Fatalf("WriterAlive() = %v, %v after the writer process ended", alive, err)
	}
}
