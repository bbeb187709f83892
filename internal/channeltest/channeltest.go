// Package channeltest holds what the backends' tests share: a header for a
// test channel, the records a test writer writes, and a test across
// processes, for which the test binary re-executes itself as the writer.
package channeltest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/internal/testdir"
	"github.com/kekbit-go/kekbit/ports"
)

// Header returns a header for channel id with the given capacity hint and
// records of up to 1000 bytes, which never times out in a test's life.
func Header(t testing.TB, id uint64, capacity uint32) domain.Header {
	t.Helper()
	h, err := header(id, capacity)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func header(id uint64, capacity uint32) (domain.Header, error) {
	return domain.NewHeader(domain.Hints{
		WriterID: uint64(os.Getpid()), ChannelID: id, Capacity: capacity, MaxMsgLen: 1000,
		Timeout: 99_999_999_999, TickUnit: domain.Nanos,
	})
}

// Record returns the payload of record i: its sequence number, then 0..63
// bytes derived from it.
func Record(i uint64) []byte {
	p := binary.LittleEndian.AppendUint64(nil, i)
	for j := range i % 64 {
		p = append(p, byte(i*31+j))
	}
	return p
}

// WriterProcess is the body of a writer process: it creates channel id in
// vol, writes records 0..n-1 (Record), waits until stdin is closed, then
// closes the channel. Killing the process instead leaves it unclosed.
func WriterProcess(vol ports.Volume, id uint64, capacity uint32, n uint64, stdin io.Reader) error {
	h, err := header(id, capacity)
	if err != nil {
		return err
	}
	w, err := domain.Create(vol, h, codecs.Raw{})
	if err != nil {
		return err
	}
	for i := range n {
		if _, err := w.Write(Record(i)); err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
	}
	if _, err := io.Copy(io.Discard, stdin); err != nil {
		return err
	}
	return w.Close()
}

// The environment of a writer process the test binary runs.
const (
	envRoot     = "KEKBIT_CHANNELTEST_WRITER_ROOT"
	envN        = "KEKBIT_CHANNELTEST_WRITER_N"
	envCapacity = "KEKBIT_CHANNELTEST_WRITER_CAPACITY"
)

// processID is the channel a cross-process test writes.
const processID = 0xCAFE_0000_0001

// HelperProcess runs the writer process of CrossProcess (or the creator
// process of KilledCreator) when the test binary was started as one, and
// exits; otherwise it skips. Each backend's
// tests have a TestHelperProcess that calls it.
func HelperProcess(t *testing.T, newVolume func(root string) ports.Volume) {
	if root := os.Getenv(envCreatorRoot); root != "" {
		creatorProcess(newVolume(root), os.Stdin)
	}
	root := os.Getenv(envRoot)
	if root == "" {
		t.Skip("helper process for CrossProcess")
	}
	n, errN := strconv.ParseUint(os.Getenv(envN), 10, 64)
	capacity, errC := strconv.ParseUint(os.Getenv(envCapacity), 10, 32)
	err := errors.Join(errN, errC)
	if err == nil {
		err = WriterProcess(newVolume(root), processID, uint32(capacity), n, os.Stdin)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "writer process:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// CrossProcess is a test of a backend across processes: another process
// (the test binary, in TestHelperProcess) writes N records, this one
// follows them live, checks each one whole and in order, checks that a
// second writer is refused meanwhile, then lets the writer close (or kills
// it) and checks how the read ends.
type CrossProcess struct {
	NewVolume func(root string) ports.Volume
	N         int
	Capacity  uint32
	// Kill kills the writer instead of letting it close the channel: the
	// read then ends at the watermark.
	Kill bool
	// WhileWriting and AfterEnd, if set, check more: while the writer
	// process runs, and once it ended.
	WhileWriting, AfterEnd func(t *testing.T, r *domain.Reader)
}

// Run runs the test.
func (c CrossProcess) Run(t *testing.T) {
	root := testdir.New(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), envRoot+"="+root, envN+"="+strconv.Itoa(c.N),
		envCapacity+"="+strconv.FormatUint(uint64(c.Capacity), 10),
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
	waited := false
	defer func() {
		if !waited {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	vol := c.NewVolume(root)
	r, err := domain.OpenWhenReady(ctx, vol, processID)
	if err != nil {
		t.Fatalf("the channel never became ready: %v; writer: %s", err, stderr.String())
	}
	defer r.Close()
	var next uint64
	check := func(rec domain.Record) error {
		p := rec.Payload
		if next >= uint64(c.N) || !bytes.Equal(p, Record(next)) {
			t.Fatalf("record %d: got %x, want %x", next, p, Record(next))
		}
		next++
		return nil
	}
	for next < uint64(c.N) {
		if _, err := r.Read(check, 0); err != domain.ErrNothingYet {
			t.Fatalf("after %d records: %v; writer: %s", next, err, stderr.String())
		}
		if ctx.Err() != nil {
			t.Fatalf("%d records after the deadline", next)
		}
		time.Sleep(50 * time.Microsecond)
	}
	if c.WhileWriting != nil {
		c.WhileWriting(t, r)
	}
	if _, err := domain.Create(vol, r.Header(), codecs.Raw{}); !errors.Is(err, ports.ErrChannelExists) {
		t.Fatalf("second writer in another process: %v, want ErrChannelExists", err)
	}

	waited = true
	wantEnd := domain.ErrClosed
	if c.Kill {
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
	if _, err := r.Read(check, 0); !errors.Is(err, wantEnd) || next != uint64(c.N) {
		t.Fatalf("read %d records, ended with %v; want %d, %v", next, err, c.N, wantEnd)
	}
	if c.AfterEnd != nil {
		c.AfterEnd(t, r)
	}
}
