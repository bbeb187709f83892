package main_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDumpFollowWait: dump --follow --wait started before the channel
// exists waits for it (without --wait a missing channel is exit 1 at
// once), then follows it to its close; interrupted while it waits, it
// exits 1 saying so.
func TestDumpFollowWait(t *testing.T) {
	root := t.TempDir()
	if _, stderr, code := run(t, nil, "dump", "--follow", "--root", root, "--channel", "8"); code != 1 || !strings.Contains(stderr, "not found") {
		t.Fatalf("dump --follow of a missing channel: exit %d, %q", code, stderr)
	}
	f := exec.Command(kekbit, "dump", "--follow", "--wait", "--json", "--root", root, "--channel", "8")
	var fout, ferr bytes.Buffer
	f.Stdout, f.Stderr = &fout, &ferr
	if err := f.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Process.Kill(); f.Wait() })
	done := make(chan error, 1)
	go func() { done <- f.Wait() }()
	select {
	case err := <-done:
		t.Fatalf("dump --follow --wait ended before the channel was made: %v, %q", err, ferr.String())
	case <-time.After(100 * time.Millisecond):
	}
	w, stdin, werr := startWrite(t, "--root", root, "--channel", "8")
	fmt.Fprintln(stdin, "first")
	fmt.Fprintln(stdin, "second")
	stdin.Close()
	if err := w.Wait(); err != nil {
		t.Fatalf("write: %v: %s", err, werr)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("dump --follow --wait: %v: %s", err, ferr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("dump --follow --wait did not end at the close")
	}
	recs, end := parseDump(t, fout.String())
	if len(recs) != 2 || string(recs[0].Data) != "first" || string(recs[1].Data) != "second" || end.End != "closed" {
		t.Fatalf("followed %+v, end %+v", recs, end)
	}

	// Interrupted while waiting. The signal must come after the handler
	// is in place, which nothing outside shows: a process killed by it
	// (too early, on a slow machine) is tried again with a longer wait.
	handled := false
	for _, pause := range []time.Duration{100 * time.Millisecond, 500 * time.Millisecond, 2 * time.Second, 5 * time.Second} {
		g := exec.Command(kekbit, "dump", "--follow", "--wait", "--root", root, "--channel", "9")
		var gerr bytes.Buffer
		g.Stderr = &gerr
		if err := g.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(pause)
		g.Process.Signal(os.Interrupt)
		g.Wait()
		if g.ProcessState.ExitCode() == -1 { // killed: the handler was not in place yet
			continue
		}
		if code := g.ProcessState.ExitCode(); code != 1 || !strings.Contains(gerr.String(), "interrupted while waiting for the channel to be created") {
			t.Fatalf("dump --follow --wait interrupted: exit %d (%v), %q", code, g.ProcessState, gerr.String())
		}
		handled = true
		break
	}
	if !handled {
		t.Fatal("dump --follow --wait never handled SIGINT: killed by it every time")
	}
	if _, err := os.Stat(filepath.Join(root, "0000_0000", "0000_0009.kekbit")); !os.IsNotExist(err) {
		t.Fatalf("waiting made the channel: %v", err)
	}
}
