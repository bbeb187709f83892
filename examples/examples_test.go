package examples_test

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/internal/testio"
)

// TestExamples builds the example programs once, then runs each as real
// processes, every subtest on a fresh --root of its own.
func TestExamples(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the mmap backend runs on Linux only")
	}
	if testing.Short() {
		t.Skip("builds and runs programs")
	}
	bin := build(t, "quickstart", "echo", "chat", "reqrep")
	exe := func(name string) string { return filepath.Join(bin, name) }

	t.Run("quickstart", func(t *testing.T) {
		t.Parallel()
		root := t.TempDir()
		p := start(t, exe("quickstart"), "--root", root)
		p.stdin.Close()
		if code := p.wait(t, 10*time.Second); code != 0 {
			t.Fatalf("exit status %d\n%s", code, p)
		}
		out := p.stdout.String()
		for i := 1; i <= 5; i++ {
			want := "record " + string(rune('0'+i)) + " of 5"
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q\n%s", want, p)
			}
		}
		if !strings.Contains(out, "the writer closed the channel after 5 records") {
			t.Errorf("output does not say the channel was closed\n%s", p)
		}
		if files := channelFiles(t, root); len(files) != 0 {
			t.Errorf("files left under --root: %v", files)
		}
	})

	t.Run("echo", func(t *testing.T) {
		t.Parallel()
		root := t.TempDir()
		// The reader first: it waits for the channel.
		reader := start(t, exe("echo"), "read", "--root", root, "--wait", "10s")
		reader.stdin.Close()
		writer := start(t, exe("echo"), "write", "--root", root, "--max-len", "16")
		input := "first line\n\nthird line, longer than one record of the channel\nlast line without newline"
		io.WriteString(writer.stdin, input)
		writer.stdin.Close()
		if code := writer.wait(t, 10*time.Second); code != 0 {
			t.Fatalf("writer: exit status %d\n%s", code, writer)
		}
		if code := reader.wait(t, 10*time.Second); code != 0 {
			t.Fatalf("reader: exit status %d\n%s", code, reader)
		}
		if got := reader.stdout.String(); got != input {
			t.Errorf("reader wrote %q, want %q", got, input)
		}

		// A second writer on the same channel is refused...
		again := start(t, exe("echo"), "write", "--root", root)
		again.stdin.Close()
		if code := again.wait(t, 10*time.Second); code != 1 || !strings.Contains(again.stderr.String(), "--fresh") {
			t.Errorf("second writer: exit status %d, want 1 and a hint at --fresh\n%s", code, again)
		}
		// ...unless it removes the old channel first.
		fresh := start(t, exe("echo"), "write", "--root", root, "--fresh")
		io.WriteString(fresh.stdin, "again\n")
		fresh.stdin.Close()
		if code := fresh.wait(t, 10*time.Second); code != 0 {
			t.Fatalf("writer with --fresh: exit status %d\n%s", code, fresh)
		}
		replay := start(t, exe("echo"), "read", "--root", root)
		replay.stdin.Close()
		if code := replay.wait(t, 10*time.Second); code != 0 || replay.stdout.String() != "again\n" {
			t.Errorf("reader after the writer: exit status %d, output %q; want 0, %q\n%s", code, replay.stdout.String(), "again\n", replay)
		}
	})

	t.Run("echo-writer-killed", func(t *testing.T) {
		t.Parallel()
		root := t.TempDir()
		writer := start(t, exe("echo"), "write", "--root", root)
		io.WriteString(writer.stdin, "before the crash\n")
		reader := start(t, exe("echo"), "read", "--root", root, "--wait", "10s")
		reader.stdin.Close()
		reader.waitOutput(t, "before the crash\n", 10*time.Second)
		writer.cmd.Process.Kill() // no Close: no close mark
		if code := reader.wait(t, 10*time.Second); code != 1 || !strings.Contains(reader.stderr.String(), "gone") {
			t.Errorf("reader: exit status %d, want 1 and the writer reported gone\n%s", code, reader)
		}
	})

	t.Run("reqrep", func(t *testing.T) {
		t.Parallel()
		root := t.TempDir()
		server := start(t, exe("reqrep"), "server", "--root", root, "--spins", "1000")
		server.stdin.Close()
		// Two clients, one after the other: each gets a session of its own.
		for range 2 {
			client := start(t, exe("reqrep"), "client", "--root", root, "--spins", "1000", "--n", "1000", "--wait", "10s")
			client.stdin.Close()
			if code := client.wait(t, 15*time.Second); code != 0 {
				t.Fatalf("client: exit status %d\n%s\nserver:\n%s", code, client, server)
			}
			if out := client.stdout.String(); !strings.Contains(out, "1000 round trips") || !strings.Contains(out, "median") {
				t.Errorf("client printed no figures\n%s", client)
			}
		}
		server.cmd.Process.Signal(os.Interrupt)
		if code := server.wait(t, 10*time.Second); code != 0 {
			t.Fatalf("server: exit status %d\n%s", code, server)
		}
		if files := channelFiles(t, root); len(files) != 0 {
			t.Errorf("channels left after the sessions: %v", files)
		}
	})

	t.Run("chat", func(t *testing.T) {
		t.Parallel()
		root := t.TempDir()
		alice := start(t, exe("chat"), "--root", root, "--me", "alice", "--peer", "bob")
		bob := start(t, exe("chat"), "--root", root, "--me", "bob", "--peer", "alice")
		io.WriteString(alice.stdin, "hi bob\n")
		bob.waitOutput(t, "alice: hi bob\n", 10*time.Second)
		io.WriteString(bob.stdin, "hi alice\n")
		alice.waitOutput(t, "bob: hi alice\n", 10*time.Second)

		alice.stdin.Close() // Ctrl-D: alice leaves, closing her channel
		if code := alice.wait(t, 10*time.Second); code != 0 {
			t.Fatalf("alice: exit status %d\n%s", code, alice)
		}
		bob.waitOutput(t, "* alice left\n", 10*time.Second)

		// Alice's channel is still there: she must start afresh.
		again := start(t, exe("chat"), "--root", root, "--me", "alice", "--peer", "bob")
		again.stdin.Close()
		if code := again.wait(t, 10*time.Second); code != 1 || !strings.Contains(again.stderr.String(), "--fresh") {
			t.Errorf("alice again: exit status %d, want 1 and a hint at --fresh\n%s", code, again)
		}
		back := start(t, exe("chat"), "--root", root, "--me", "alice", "--peer", "bob", "--fresh")
		io.WriteString(back.stdin, "back again\n")
		bob.waitOutput(t, "alice: back again\n", 10*time.Second)

		bob.cmd.Process.Signal(syscall.SIGTERM)
		if code := bob.wait(t, 10*time.Second); code != 0 {
			t.Fatalf("bob: exit status %d\n%s", code, bob)
		}
		back.waitOutput(t, "* bob left\n", 10*time.Second)
		back.stdin.Close()
		if code := back.wait(t, 10*time.Second); code != 0 {
			t.Fatalf("alice back: exit status %d\n%s", code, back)
		}
	})
}

// build builds the example programs named into a temporary folder and
// returns it. With -race, the programs are built with it too.
func build(t *testing.T, names ...string) string {
	t.Helper()
	bin := t.TempDir()
	args := []string{"build", "-o", bin + string(filepath.Separator)}
	if raceEnabled {
		args = append(args, "-race")
	}
	for _, name := range names {
		args = append(args, "./"+name)
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the examples:", err)
	}
	if out, err := exec.Command(goTool, args...).CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin
}

// proc is a running example program.
type proc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout testio.Buffer
	stderr testio.Buffer
	done   chan struct{}
	err    error // of Wait, once done is closed
}

// start starts exe with args; the test's cleanup kills it if it still
// runs. Its standard input is p.stdin, to write and close.
func start(t *testing.T, exe string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(exe, args...), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// wait waits for the program to exit and returns its exit status. It
// fails the test if the program runs longer than timeout.
func (p *proc) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("%s still ran after %v\n%s", p.cmd, timeout, p)
	}
	var exit *exec.ExitError
	if errors.As(p.err, &exit) {
		return exit.ExitCode()
	}
	if p.err != nil {
		t.Fatalf("%s: %v", p.cmd, p.err)
	}
	return 0
}

// waitOutput waits until the program's standard output holds want.
func (p *proc) waitOutput(t *testing.T, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(p.stdout.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not print %q in %v\n%s", p.cmd, want, timeout, p)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (p *proc) String() string {
	return "stdout:\n" + p.stdout.String() + "stderr:\n" + p.stderr.String()
}

// channelFiles lists the files under root.
func channelFiles(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
