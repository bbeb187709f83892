package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// wantGone fails unless neither the channel file at path nor its lock file
// is there.
func wantGone(t *testing.T, path string) {
	t.Helper()
	for _, p := range []string{path, strings.TrimSuffix(path, ".kekbit") + ".lock"} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s is still there: %v", p, err)
		}
	}
}

// TestRmAbandoned: rm removes a channel whose writer stopped without
// closing it, named as ROOT --channel ID, --root ROOT --channel ID or by
// its path, inside a root's layout or not; the id can then be written
// again. A channel that is not there is exit 1.
func TestRmAbandoned(t *testing.T) {
	root := t.TempDir()
	free := filepath.Join(t.TempDir(), "copy.kekbit")
	for i, args := range [][]string{
		{root, "--channel", "3"},
		{"--root", root, "--channel", "0x3"},
		{filepath.Join(root, "0000_0000", "0000_0003.kekbit")},
		{free},
	} {
		path := filepath.Join(root, "0000_0000", "0000_0003.kekbit")
		if i == 3 {
			path = free
		}
		if _, _, code := run(t, []byte("one\nnot json\n"), "write", "--jsonl", path); code != 1 {
			t.Fatalf("the aborted write: exit %d", code)
		}
		out, stderr, code := run(t, nil, append([]string{"rm"}, args...)...)
		if code != 0 || out != "removed "+path+"\n" {
			t.Fatalf("rm %v: exit %d, %q, %q", args, code, out, stderr)
		}
		wantGone(t, path)
		if _, stderr, code := run(t, []byte("again\n"), "write", path); code != 0 {
			t.Fatalf("write after rm: exit %d: %s", code, stderr)
		}
		if _, stderr, code := run(t, nil, append([]string{"rm"}, args...)...); code != 0 { // closed: removed too
			t.Fatalf("rm of the closed channel: exit %d: %s", code, stderr)
		}
		_, stderr, code = run(t, nil, append([]string{"rm"}, args...)...)
		if code != 1 || !strings.Contains(stderr, "channel not found") {
			t.Fatalf("rm of nothing: exit %d, %q", code, stderr)
		}
	}
}

// TestRmRefusesLive: rm refuses, with or without --force, a channel whose
// writer is at work (exit 1, saying so), and the writer carries on.
func TestRmRefusesLive(t *testing.T) {
	root := t.TempDir()
	for _, path := range []string{filepath.Join(root, "0000_0000", "0000_0004.kekbit"), filepath.Join(t.TempDir(), "live.kekbit")} {
		w, stdin, werr := startWrite(t, path)
		fmt.Fprintln(stdin, "one")
		waitReady(t, path)
		for _, force := range []bool{false, true} {
			args := []string{"rm", path}
			if force {
				args = append(args, "--force")
			}
			_, stderr, code := run(t, nil, args...)
			if code != 1 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "not removed: its writer is alive") {
				t.Errorf("%v: exit %d, %q; want exit 1 saying the writer is alive", args, code, stderr)
			}
			if _, err := os.Stat(path); err != nil {
				t.Fatalf("%v removed a live channel: %v", args, err)
			}
		}
		fmt.Fprintln(stdin, "two")
		stdin.Close()
		if err := w.Wait(); err != nil {
			t.Fatalf("the writer after the refused rm: %v: %s", err, werr)
		}
		if ci := infoOf(t, path); ci.State != "closed" || ci.Records != 2 {
			t.Fatalf("info %+v, want closed with 2 records", ci)
		}
	}
}

// TestRmCrateChannel: an unclosed channel the Rust crate wrote cannot tell
// whether its writer runs (it takes no lock): rm refuses it and says
// --force; with --force it goes.
func TestRmCrateChannel(t *testing.T) {
	var src string
	for _, v := range vectors(t) {
		if v.Name == "d_mixed_unclosed" {
			src = v.Path
		}
	}
	img, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "crate.kekbit")
	if err := os.WriteFile(path, img, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := run(t, nil, "rm", path); code != 1 || !strings.Contains(stderr, "cannot be told (--force removes it)") {
		t.Fatalf("rm of an unclosed crate channel: exit %d, %q", code, stderr)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("removed without --force: %v", err)
	}
	if out, stderr, code := run(t, nil, "rm", "--force", path); code != 0 || out != "removed "+path+"\n" {
		t.Fatalf("rm --force: exit %d, %q, %q", code, out, stderr)
	}
	wantGone(t, path)
}

// TestRmDeadCreator: a write SIGKILLed while it creates a large channel
// leaves its lock file (and a file with a zero header); ls lists the id as
// creating while the creator is at work and abandoned-create once it is
// dead, info says so; rm removes what it left (odd rounds) or a new write
// takes the id over at once (even rounds): 20 times in a row.
func TestRmDeadCreator(t *testing.T) {
	disk := mountTmpfs(t, "600m")
	path := filepath.Join(disk, "0000_0000", "0000_0006.kekbit")
	lock := strings.TrimSuffix(path, ".kekbit") + ".lock"
	for round := range 20 {
		w, stdin, _ := startWrite(t, "--root", disk, "--channel", "6", "--capacity", fmt.Sprint(512<<20))
		deadline := time.Now().Add(10 * time.Second)
		for { // the channel file is made, and its blocks are being reserved
			_, errFile := os.Stat(path)
			_, errLock := os.Stat(lock)
			if errFile == nil && errLock == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: the create never started", round)
			}
			time.Sleep(time.Millisecond)
		}
		if round == 0 { // the creator is at work: reserving 512 MiB takes it about 0.4 s
			out, _, code := run(t, nil, "ls", "--json", disk)
			if code != 0 || !strings.Contains(out, `"channel_id":6,`) || !strings.Contains(out, `"state":"creating"`) {
				t.Fatalf("ls while the creator is at work: exit %d, %s", code, out)
			}
		}
		w.Process.Kill()
		w.Wait()
		stdin.Close()
		if _, err := os.Stat(lock); err != nil {
			t.Fatalf("round %d: the killed creator left no lock file (killed too late?): %v", round, err)
		}
		out, _, code := run(t, nil, "ls", "--json", disk)
		if code != 0 || !strings.Contains(out, `"channel_id":6,`) || !strings.Contains(out, `"state":"abandoned-create"`) {
			t.Fatalf("round %d: ls: exit %d, %s", round, code, out)
		}
		if _, stderr, code := run(t, nil, "info", path); code != 1 || !strings.Contains(stderr, "abandoned-create: its creator died") {
			t.Fatalf("round %d: info: exit %d, %q", round, code, stderr)
		}
		if round%2 == 1 { // odd rounds: rm clears the id; even: the next writer takes it over
			if out, stderr, code := run(t, nil, "rm", disk, "--channel", "6"); code != 0 || out != "removed "+path+"\n" {
				t.Fatalf("round %d: rm: exit %d, %q, %q", round, code, out, stderr)
			}
			wantGone(t, path)
		}
		if _, stderr, code := run(t, []byte("mine now\n"), "write", "--root", disk, "--channel", "6"); code != 0 {
			t.Fatalf("round %d: a write after the dead creator: exit %d: %s", round, code, stderr)
		}
		if ci := infoOf(t, path); ci.State != "closed" || ci.Records != 1 {
			t.Fatalf("round %d: info %+v", round, ci)
		}
		if _, stderr, code := run(t, nil, "rm", path); code != 0 {
			t.Fatalf("round %d: rm of the new channel: exit %d: %s", round, code, stderr)
		}
	}
}
