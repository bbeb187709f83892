package file_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/spf13/afero"

	"github.com/kekbit-go/kekbit/adapters/file"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/ports"
)

const (
	helperEnv     = "KEKBIT_FILE_TEST_HELPER"
	helperRootEnv = "KEKBIT_FILE_TEST_ROOT"
	helperNEnv    = "KEKBIT_FILE_TEST_N"
	processID     = 0xF11E_0000_0001
)

// processRecord returns the payload of record i: its sequence number, then
// 0..63 bytes derived from it.
func processRecord(i uint64) []byte {
	p := binary.LittleEndian.AppendUint64(nil, i)
	for j := range i % 64 {
		p = append(p, byte(i*31+j))
	}
	return p
}

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
	h, err := domain.NewHeader(domain.Hints{
		WriterID: uint64(os.Getpid()), ChannelID: processID, Capacity: 4 << 20,
		MaxMsgLen: 1000, Timeout: 99_999_999_999, TickUnit: domain.Nanos,
	})
	if err != nil {
		return err
	}
	w, err := domain.Create(file.NewVolume(afero.NewOsFs(), os.Getenv(helperRootEnv)), h, codecs.Raw{})
	if err != nil {
		return err
	}
	for i := range n {
		if _, err := w.Write(processRecord(i)); err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
	}
	if _, err := io.Copy(io.Discard, os.Stdin); err != nil {
		return err
	}
	return w.Close()
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
		if next >= n || !bytes.Equal(p, processRecord(next)) {
			t.Fatalf("record %d: got %x, want %x", next, p, processRecord(next))
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
