package main_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runTo runs the command with its stdout on out and returns its stderr and
// exit status.
func runTo(t *testing.T, out *os.File, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(kekbit, args...)
	cmd.Stdout = out
	var errb bytes.Buffer
	cmd.Stderr = &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return errb.String(), 0
	case errors.As(err, &ee):
		return errb.String(), ee.ExitCode()
	}
	t.Fatalf("running kekbit %v: %v", args, err)
	return "", -1
}

// writeChannel writes n text records to a new channel under a temp root
// and returns the root and the channel's path (channel 7).
func writeChannel(t *testing.T, n int) (root, path string) {
	t.Helper()
	root = t.TempDir()
	var in strings.Builder
	for i := range n {
		fmt.Fprintf(&in, "record number %d\n", i)
	}
	if _, stderr, code := run(t, []byte(in.String()), "write", "--capacity", fmt.Sprint(64<<20), "--root", root, "--channel", "7"); code != 0 {
		t.Fatalf("write: exit %d: %s", code, stderr)
	}
	return root, filepath.Join(root, "0000_0000", "0000_0007.kekbit")
}

// outputCommands are the commands that print something, on the channel at
// path under root.
func outputCommands(root, path string) [][]string {
	return [][]string{
		{"dump", "--json", path},
		{"dump", path},
		{"dump", "--follow", path},
		{"dump", "--follow", "--json", path},
		{"info", path},
		{"info", "--json", path},
		{"ls", root},
		{"ls", "--json", root},
		{"verify", path},
		{"--help"},
		{"--version"},
		{"dump", "--help"},
	}
}

// wantWriteFailure fails unless the command exited 1 with one line on
// stderr that says the output could not be written.
func wantWriteFailure(t *testing.T, args []string, stderr string, code int) {
	t.Helper()
	if code != 1 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "writing the output") ||
		!strings.Contains(stderr, "no space left on device") {
		t.Errorf("%v: exit %d, stderr %q; want exit 1 and one line saying the output could not be written", args, code, stderr)
	}
}

// TestOutputToDevFull: every command that prints exits 1 with one line on
// stderr when its stdout is /dev/full, where every write fails.
func TestOutputToDevFull(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Fatalf("this test needs /dev/full: %v", err)
	}
	defer full.Close()
	root, path := writeChannel(t, 1000)
	for _, args := range outputCommands(root, path) {
		stderr, code := runTo(t, full, args...)
		wantWriteFailure(t, args, stderr, code)
	}
}

// mountTmpfs mounts a tmpfs of size ("64k") on a temp folder for the test
// and returns the folder. Not permitted, it fails the test when it runs as
// root (CI does), and skips it for anyone else.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput()
	if err != nil {
		if os.Geteuid() != 0 {
			t.Skipf("mounting a tmpfs needs root: %v: %s", err, out)
		}
		t.Fatalf("mount -t tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// TestOutputToFullDisk: on a real file system that fills up, a dump
// bigger than the space left exits 1 (it used to exit 0 with part of the
// records), and so does every command once the disk is full.
func TestOutputToFullDisk(t *testing.T) {
	disk := mountTmpfs(t, "64k")
	root, path := writeChannel(t, 30000)
	create := func(name string) *os.File {
		f, err := os.Create(filepath.Join(disk, name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	// A dump of 30000 records (about 1.3 MB of JSON) into 64 KiB.
	for _, args := range [][]string{{"dump", "--json", path}, {"dump", path}} {
		f := create("backup")
		stderr, code := runTo(t, f, args...)
		wantWriteFailure(t, args, stderr, code)
		f.Close()
		os.Remove(f.Name())
	}
	// Fill the disk, then every command fails.
	filler := create("filler")
	if _, err := filler.Write(make([]byte, 1<<20)); err == nil {
		t.Fatal("1 MiB fits a 64 KiB tmpfs")
	}
	for i, args := range outputCommands(root, path) {
		stderr, code := runTo(t, create(fmt.Sprint("out", i)), args...)
		wantWriteFailure(t, args, stderr, code)
	}
}
