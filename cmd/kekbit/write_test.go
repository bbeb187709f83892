package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// channelInfo is what the tests read of `info --json`.
type channelInfo struct {
	Records     int    `json:"records"`
	Heartbeats  int    `json:"heartbeats"`
	State       string `json:"state"`
	WriterAlive bool   `json:"writer_alive"`
}

func infoOf(t *testing.T, path string) channelInfo {
	t.Helper()
	out, stderr, code := run(t, nil, "info", "--json", path)
	if code != 0 {
		t.Fatalf("info %s: exit %d: %s", path, code, stderr)
	}
	var ci channelInfo
	if err := json.Unmarshal([]byte(out), &ci); err != nil {
		t.Fatalf("info %s: %v: %s", path, err, out)
	}
	return ci
}

// wantWriterGone fails unless the channel at path reads as one whose
// writer crashed after n records: not closed, no writer, and a follower
// ends at once with "abandoned" (it used to find the close mark, and take
// the cut copy for a finished one).
func wantWriterGone(t *testing.T, path string, n int) {
	t.Helper()
	wantEnd(t, path, n, "abandoned")
}

// wantEnd fails unless info says the channel at path is in state end with
// n records and no writer, and a follower ends at once with end.
func wantEnd(t *testing.T, path string, n int, end string) {
	t.Helper()
	if ci := infoOf(t, path); ci.State != end || ci.Records != n || ci.WriterAlive {
		t.Errorf("%s: info %+v; want %s with %d records and no writer", path, ci, end, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, kekbit, "dump", "--follow", "--json", path).Output()
	if err != nil {
		t.Fatalf("dump --follow of %s: %v (a follower must not wait for a writer that is gone)", path, err)
	}
	if recs, last := parseDump(t, string(out)); len(recs) != n || last.End != end {
		t.Errorf("dump --follow of %s: %d records, end %+v; want %d records, end %s", path, len(recs), last, n, end)
	}
}

// wantAborted fails unless write exited 1 with one line on stderr that says
// why (say) and how many records went in.
func wantAborted(t *testing.T, stderr string, code, n int, say string) {
	t.Helper()
	went := fmt.Sprintf("stopped after %d records went in", n)
	if n == 1 {
		went = "stopped after 1 record went in"
	}
	if code != 1 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, say) || !strings.Contains(stderr, went) ||
		!strings.Contains(stderr, "left unclosed") {
		t.Errorf("exit %d, stderr %q; want exit 1 and one line saying %q and %q", code, stderr, say, went)
	}
}

// TestWriteAbortedLeavesNoCloseMark: a write stopped before the end of its
// input, by a bad --jsonl line, a record too large, a full channel or a
// failed read of its input, exits 1, says how many records went in, and
// leaves the channel without a close mark, as a crashed writer would.
func TestWriteAbortedLeavesNoCloseMark(t *testing.T) {
	dir := t.TempDir()
	var many strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&many, "%d\n", i)
	}
	for _, tc := range []struct {
		name  string
		args  []string
		input string
		n     int
		say   string
		end   string // what readers see: abandoned, or full when no record fits any more
	}{
		{"bad jsonl line", []string{"--jsonl"}, "{\"data\":\"YQ==\"}\n{\"data\":\"Yg==\"}\nnot json\n{\"data\":\"Yw==\"}\n", 2, "input line 3: not a JSON line", "abandoned"},
		{"record too large", []string{"--max-msg", "100"}, "one\ntwo\nthree\n" + strings.Repeat("x", 200) + "\nfour\n", 3, "input line 4: record larger than the max record length", "abandoned"},
		{"full channel", []string{"--capacity", "16384"}, many.String(), 1023, "channel full", "full"},
		{"line too long to read", nil, "one\n" + strings.Repeat("y", 65<<20) + "\n", 1, "reading the input after line 1: bufio.Scanner: token too long", "abandoned"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".kekbit")
			_, stderr, code := run(t, []byte(tc.input), append(append([]string{"write"}, tc.args...), path)...)
			wantAborted(t, stderr, code, tc.n, tc.say)
			wantEnd(t, path, tc.n, tc.end)
		})
	}
	t.Run("stdin read error", func(t *testing.T) {
		path := filepath.Join(dir, "read_error.kekbit")
		stdin, err := os.Open(dir) // read(2) of a folder: EISDIR
		if err != nil {
			t.Fatal(err)
		}
		defer stdin.Close()
		cmd := exec.Command(kekbit, "write", path)
		cmd.Stdin = stdin
		var errb bytes.Buffer
		cmd.Stderr = &errb
		cmd.Run()
		wantAborted(t, errb.String(), cmd.ProcessState.ExitCode(), 0, "is a directory")
		wantWriterGone(t, path, 0)
	})
	t.Run("end of input closes", func(t *testing.T) {
		path := filepath.Join(dir, "whole.kekbit")
		if _, stderr, code := run(t, []byte("a\nb\n"), "write", path); code != 0 || stderr != "" {
			t.Fatalf("exit %d, %q", code, stderr)
		}
		if ci := infoOf(t, path); ci.State != "closed" || ci.Records != 2 {
			t.Fatalf("info %+v, want closed with 2 records", ci)
		}
	})
}

// startWrite starts `kekbit write args...` with a pipe on its stdin and
// returns it, its stdin and its stderr.
func startWrite(t *testing.T, args ...string) (*exec.Cmd, io.WriteCloser, *bytes.Buffer) {
	t.Helper()
	w := exec.Command(kekbit, append([]string{"write"}, args...)...)
	stdin, err := w.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	w.Stderr = &errb
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Process.Kill(); w.Wait() })
	return w, stdin, &errb
}

// TestWriteSignalLeavesNoCloseMark: SIGINT and SIGTERM stop write as an
// aborted write: exit 1, the count said, no close mark.
func TestWriteSignalLeavesNoCloseMark(t *testing.T) {
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "0000_0000", "0000_0009.kekbit")
			w, stdin, werr := startWrite(t, path)
			fmt.Fprintln(stdin, "one")
			fmt.Fprintln(stdin, "two")
			waitReady(t, path)
			waitRecords(t, path, 2)
			w.Process.Signal(sig)
			w.Wait()
			wantAborted(t, werr.String(), w.ProcessState.ExitCode(), 2, "interrupted")
			wantWriterGone(t, path, 2)
		})
	}
}

// waitRecords waits until the channel at path holds n records.
func waitRecords(t *testing.T, path string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for infoOf(t, path).Records < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s never held %d records", path, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestWriteSignalDuringCreate: a Ctrl-C while write creates a large
// channel (512 MiB on a tmpfs, which zeroes every page it reserves) does
// not kill it half-way and wedge the id: write removes the channel once it
// is made and exits 1, and a new write on the id works.
func TestWriteSignalDuringCreate(t *testing.T) {
	disk := mountTmpfs(t, "600m")
	path := filepath.Join(disk, "0000_0000", "0000_0005.kekbit")
	lock := strings.TrimSuffix(path, ".kekbit") + ".lock"
	w, stdin, werr := startWrite(t, "--root", disk, "--channel", "5", "--capacity", fmt.Sprint(512<<20))
	defer stdin.Close()
	deadline := time.Now().Add(10 * time.Second)
	for { // the lock file is there while the creator makes the channel
		if _, err := os.Stat(lock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the create never started")
		}
		time.Sleep(time.Millisecond)
	}
	w.Process.Signal(os.Interrupt)
	w.Wait()
	if code := w.ProcessState.ExitCode(); code != 1 || !strings.Contains(werr.String(), "interrupted while creating the channel: removed it") {
		t.Fatalf("write interrupted during its create: exit %d (%v), stderr %q", code, w.ProcessState, werr.String())
	}
	for _, p := range []string{path, lock} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s left behind: %v", p, err)
		}
	}
	if _, stderr, code := run(t, []byte("again\n"), "write", "--root", disk, "--channel", "5"); code != 0 {
		t.Fatalf("a new write on the id: exit %d: %s", code, stderr)
	}
}

// TestWriteFileCutUnderIt: write on a channel file another process cuts
// short exits 1 with a line that says so, not SIGBUS (exit 2, "usage").
func TestWriteFileCutUnderIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cut.kekbit")
	w, stdin, werr := startWrite(t, path)
	fmt.Fprintln(stdin, "one")
	waitReady(t, path)
	waitRecords(t, path, 1)
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if _, err := fmt.Fprintln(stdin, "more", i); err != nil {
			break // it has stopped reading
		}
	}
	stdin.Close()
	w.Wait()
	if code := w.ProcessState.ExitCode(); code != 1 || strings.Count(werr.String(), "\n") != 1 ||
		!strings.Contains(werr.String(), "the channel file was cut short under the writer") ||
		!strings.Contains(werr.String(), "stopped after 1 record went in") {
		t.Fatalf("exit %d (%v), stderr %q", code, w.ProcessState, werr.String())
	}
}

// TestHeartbeatWhenIdle: --heartbeat D sends heartbeats only while the
// input is idle for D: a steady input (a line every 5ms, D 1s) gets none
// but the writer's first, an idle one (D 2ms, 300ms idle) gets them; below
// 1ms is a usage error.
func TestHeartbeatWhenIdle(t *testing.T) {
	dir := t.TempDir()
	steady := filepath.Join(dir, "steady.kekbit")
	w, stdin, werr := startWrite(t, "--heartbeat", "1s", steady)
	for i := range 200 {
		fmt.Fprintln(stdin, "line", i)
		time.Sleep(5 * time.Millisecond)
	}
	stdin.Close()
	if err := w.Wait(); err != nil {
		t.Fatalf("steady write: %v: %s", err, werr)
	}
	if ci := infoOf(t, steady); ci.Records != 200 || ci.Heartbeats != 1 {
		t.Errorf("steady input: %+v; want 200 records and only the first heartbeat", ci)
	}

	idle := filepath.Join(dir, "idle.kekbit")
	w, stdin, werr = startWrite(t, "--heartbeat", "2ms", idle)
	fmt.Fprintln(stdin, "before")
	time.Sleep(300 * time.Millisecond)
	fmt.Fprintln(stdin, "after")
	stdin.Close()
	if err := w.Wait(); err != nil {
		t.Fatalf("idle write: %v: %s", err, werr)
	}
	if ci := infoOf(t, idle); ci.Records != 2 || ci.Heartbeats < 3 {
		t.Errorf("idle input: %+v; want 2 records and heartbeats while idle", ci)
	}

	for _, d := range []string{"999us", "1ns", "-1s"} {
		if _, stderr, code := run(t, nil, "write", "--heartbeat", d, filepath.Join(dir, "x.kekbit")); code != 2 || !strings.Contains(stderr, "--heartbeat") {
			t.Errorf("--heartbeat %s: exit %d, %q; want 2", d, code, stderr)
		}
	}
}

// TestRawLinesKeepTheirBytes: a raw line keeps a trailing \r (it is data);
// a text line loses it (a CRLF line end).
func TestRawLinesKeepTheirBytes(t *testing.T) {
	dir := t.TempDir()
	in := []byte("a\r\nb\x00\r\r\nc\n")
	for _, tc := range []struct {
		format string
		want   []string
	}{
		{"raw", []string{"a\r", "b\x00\r\r", "c"}},
		{"text", []string{"a", "b\x00\r", "c"}},
	} {
		path := filepath.Join(dir, tc.format+".kekbit")
		if _, stderr, code := run(t, in, "write", "--format", tc.format, path); code != 0 {
			t.Fatalf("write --format %s: exit %d: %s", tc.format, code, stderr)
		}
		out, _, _ := run(t, nil, "dump", "--json", path)
		recs, _ := parseDump(t, out)
		var got []string
		for _, r := range recs {
			got = append(got, string(r.Data))
		}
		if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tc.want) {
			t.Errorf("--format %s: records %q, want %q", tc.format, got, tc.want)
		}
	}
}
