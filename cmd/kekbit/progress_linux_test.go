package main_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPty opens a pseudo-terminal and returns its two ends.
func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("this test needs a pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

// TestDumpProgressOfRecords: with stderr a terminal, dump shows its
// progress as the records printed of the records the channel holds (it
// used to show the position against the capacity: 2% at the end of a
// channel filled to 2%).
func TestDumpProgressOfRecords(t *testing.T) {
	_, path := writeChannel(t, 30000) // 64 MiB of capacity, 1.3 MB written
	master, slave := openPty(t)
	var tty bytes.Buffer
	var wg sync.WaitGroup
	wg.Go(func() { io.Copy(&tty, master) }) // ends when the slave is closed
	cmd := exec.Command(kekbit, "dump", "--json", path)
	cmd.Stderr = slave
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Read the output slowly, so that the dump lasts about a second and
	// shows its progress a few times.
	buf := make([]byte, 32<<10)
	lines := 0
	for {
		n, err := stdout.Read(buf)
		lines += bytes.Count(buf[:n], []byte("\n"))
		if err != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("dump: %v", err)
	}
	slave.Close()
	wg.Wait()
	if lines != 30001 {
		t.Fatalf("%d lines of output, want 30001", lines)
	}
	shown := regexp.MustCompile(`\r(\d+) of (\d+) records, (\d+)% `).FindAllStringSubmatch(tty.String(), -1)
	if len(shown) == 0 {
		t.Fatalf("no progress on the terminal: %q", tty.String())
	}
	for _, m := range shown {
		n, _ := strconv.Atoi(m[1])
		pct, _ := strconv.Atoi(m[3])
		if m[2] != "30000" || n > 30000 || pct != (100*n+15000)/30000 && pct != 100*n/30000 {
			t.Errorf("progress %q: want n of 30000 records and n's share of them", m[0])
		}
	}
	if last := shown[len(shown)-1]; fmt.Sprint(tty.String()[len(tty.String())-4:]) != "\r\x1b[K" {
		t.Errorf("the progress line is not cleared at the end (last shown %q): %q", last[0], tty.String()[max(0, len(tty.String())-40):])
	}
}
