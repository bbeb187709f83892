package channeltest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/internal/layout"
	"github.com/kekbit-go/kekbit/internal/testdir"
	"github.com/kekbit-go/kekbit/ports"
)

// envCreatorRoot, in the environment of the test binary, makes it the
// creator process of KilledCreator, creating in that root.
const envCreatorRoot = "KEKBIT_CHANNELTEST_CREATOR_ROOT"

// creatorID is the channel KilledCreator's creator process creates.
const creatorID = 0xCAFE_0000_0002

// creating is what the creator process says once it is in the middle of
// its Create.
const creating = "creating"

// creatorProcess is the body of KilledCreator's creator process: it starts
// creating channel creatorID in vol, and in the middle of the Create (in
// init, lock file and channel file made, both locks held) says so on
// stdout and waits until stdin is closed. It is meant to be killed there.
func creatorProcess(vol ports.Volume, stdin io.Reader) {
	_, err := vol.Create(creatorID, 1<<16, func(ports.Storage) error {
		fmt.Println(creating)
		_, err := io.Copy(io.Discard, stdin)
		return errors.Join(err, errors.New("stdin closed: the test is over"))
	})
	fmt.Fprintln(os.Stderr, "creator process:", err)
	os.Exit(1)
}

// KilledCreator is a test of how a backend clears a dead creator's files
// across processes, on the operating system's file system: another
// process (the test binary, in TestHelperProcess) stops in the middle of
// creating a channel. While it lives the channel is not ready, and
// RemoveAbandoned and ClearDeadCreator refuse it (ports.ErrChannelNotReady)
// and Create says it exists; once it is killed (SIGKILL, so it cleans
// nothing up), whatever its age, each of RemoveAbandoned, ClearDeadCreator
// (where the volume has it) and Create itself (its take-over) clears what
// it left at once, and the id is created again.
type KilledCreator struct {
	NewVolume func(root string) ports.Volume
}

// Run runs the test, once for each way of clearing.
func (k KilledCreator) Run(t *testing.T) {
	for _, by := range []string{"RemoveAbandoned", "ClearDeadCreator", "Create"} {
		t.Run(by, func(t *testing.T) { k.run(t, by) })
	}
}

func (k KilledCreator) run(t *testing.T, by string) {
	root := testdir.New(t)
	vol := k.NewVolume(root)
	remover, ok := vol.(ports.AbandonedRemover)
	if !ok {
		t.Fatalf("%T is not a ports.AbandonedRemover", vol)
	}
	clearer, hasClearer := vol.(ports.DeadCreatorClearer)
	if by == "ClearDeadCreator" && !hasClearer {
		t.Fatalf("%T is not a ports.DeadCreatorClearer", vol)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), envCreatorRoot+"="+root, "GORACE=atexit_sleep_ms=0")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	said := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		said <- line
	}()
	select {
	case line := <-said:
		if line != creating+"\n" {
			t.Fatalf("creator process said %q, want %q", line, creating)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the creator process never got to the middle of its Create")
	}

	path := layout.ChannelPath(root, creatorID)
	files := func(want bool) {
		t.Helper()
		for _, p := range []string{path, layout.LockPath(path)} {
			if _, err := os.Lstat(p); (err == nil) != want {
				t.Fatalf("%s: Lstat = %v, want it there: %v", p, err, want)
			}
		}
	}
	notReady := func(when string) {
		t.Helper()
		if st, err := vol.Open(creatorID); !errors.Is(err, ports.ErrChannelNotReady) {
			if st != nil {
				st.Close()
			}
			t.Fatalf("Open %s: %v, want ErrChannelNotReady (its lock file is there)", when, err)
		}
	}
	files(true)
	notReady("while the creator is at work")
	if err := remover.RemoveAbandoned(creatorID); !errors.Is(err, ports.ErrChannelNotReady) {
		t.Fatalf("RemoveAbandoned while the creator is at work: %v, want ErrChannelNotReady", err)
	}
	if hasClearer {
		if removed, err := clearer.ClearDeadCreator(creatorID); removed || !errors.Is(err, ports.ErrChannelNotReady) {
			t.Fatalf("ClearDeadCreator while the creator is at work: %v, %v; want false, ErrChannelNotReady", removed, err)
		}
	}
	if st, err := vol.Create(creatorID, 1<<16, func(ports.Storage) error { return nil }); !errors.Is(err, ports.ErrChannelExists) {
		if st != nil {
			st.Close()
		}
		t.Fatalf("Create while the creator is at work: %v, want ErrChannelExists", err)
	}
	files(true)

	killed = true
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	files(true) // a killed creator cleans nothing up
	notReady("after the creator died")
	switch by {
	case "RemoveAbandoned":
		if err := remover.RemoveAbandoned(creatorID); err != nil {
			t.Fatalf("RemoveAbandoned after the creator died: %v", err)
		}
		files(false)
		if err := remover.RemoveAbandoned(creatorID); !errors.Is(err, ports.ErrChannelNotFound) {
			t.Fatalf("second RemoveAbandoned: %v, want ErrChannelNotFound", err)
		}
	case "ClearDeadCreator":
		if removed, err := clearer.ClearDeadCreator(creatorID); !removed || err != nil {
			t.Fatalf("ClearDeadCreator after the creator died: %v, %v; want true, nil", removed, err)
		}
		files(false)
		if removed, err := clearer.ClearDeadCreator(creatorID); removed || err != nil {
			t.Fatalf("second ClearDeadCreator: %v, %v; want false, nil", removed, err)
		}
	}
	st, err := vol.Create(creatorID, 1<<16, func(ports.Storage) error { return nil })
	if err != nil {
		t.Fatalf("Create after the creator died (cleared by %s): %v", by, err)
	}
	st.Close()
	if _, err := os.Lstat(layout.LockPath(path)); !os.IsNotExist(err) {
		t.Fatalf("the lock file after the Create: %v, want it gone", err)
	}
	r, err := vol.Open(creatorID)
	if err != nil {
		t.Fatalf("Open of the channel created again: %v", err)
	}
	r.Close()
}
