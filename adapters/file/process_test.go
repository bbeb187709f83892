package file_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/spf13/afero"

	"github.com/kekbit-go/kekbit/adapters/file"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/internal/channeltest"
	"github.com/kekbit-go/kekbit/ports"
)

const (
	helperEnv     = "KEKBIT_FILE_TEST_HELPER"
	helperRootEnv = "KEKBIT_FILE_TEST_ROOT"
	helperNEnv    = "KEKBIT_FILE_TEST_N"
	processID     = 0xF11E_0000_0001
)

// TestHelperProcess is the writer process of TestCrossProcess, run by the
// test binary re-executing itself. It creates the channel on OsFs, writes N
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
	return channeltest.WriterProcess(file.NewVolume(afero.NewOsFs(), os.Getenv(helperRootEnv)), processID, 4<<20, n, os.Stdin)
}

// TestCrossProcess follows, through OsFs, a channel another process writes
// through OsFs: every record arrives whole and in order (no torn length
// word, no payload missing behind its length word), a second writer is
// refused meanwhile, and the close mark ends the read.
func TestCrossProcess(t *testing.T) {
	const n = 50_000
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

	deadline := time.Now().Add(20 * time.Second)
	vol := file.NewVolume(afero.NewOsFs(), root)
	var r *domain.Reader
	for {
		r, err = domain.Open(vol, processID)
		if err == nil {
			break
		}
		if !errors.Is(err, ports.ErrChannelNotFound) && !errors.Is(err, ports.ErrChannelNotReady) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("channel never became ready: %v; writer: %s", err, stderr.String())
		}
		time.Sleep(100 * time.Microsecond)
	}
	defer r.Close()

	var next uint64
	check := func(_ uint64, p []byte) {
		if next >= n || !bytes.Equal(p, channeltest.Record(next)) {
			t.Fatalf("record %d: got %x, want %x", next, p, channeltest.Record(next))
		}
		next++
	}
	for next < n {
		if _, err := r.Read(check, 0); !errors.Is(err, domain.ErrNothingYet) {
			t.Fatalf("after %d records: %v; writer: %s", next, err, stderr.String())
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d records after the deadline", next)
		}
	}
	if _, err := domain.Create(vol, r.Header(), codecs.Raw{}); !errors.Is(err, ports.ErrChannelExists) {
		t.Fatalf("second writer in another process: %v, want ErrChannelExists", err)
	}
	done = true
	stdin.Close() // the writer closes the channel and exits
	if err := cmd.Wait(); err != nil {
		t.Fatalf("writer process: %v; %s", err, stderr.String())
	}
	if _, err := r.Read(check, 0); !errors.Is(err, domain.ErrClosed) || next != n {
		t.Fatalf("read %d records, ended with %v; want %d, ErrClosed", next, err, n)
	}
}
