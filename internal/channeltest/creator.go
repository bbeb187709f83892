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

// KilledCreator is a test of a backend's RemoveAbandoned across processes,
// on the operating system's file system: another process (the test
// binary, in TestHelperProcess) stops in the middle of creating a channel.
// While it lives the channel is not ready and RemoveAbandoned refuses it,
// with ports.ErrChannelNotReady; once it is killed (SIGKILL, so it cleans
// nothing up), the first RemoveAbandoned removes what it left, whatever
// its age, and the id can be created again.
type KilledCreator struct {
	NewVolume func(root string) ports.Volume
}

// Run runs the test.
func (k KilledCreator) Run(t *testing.T) {
	root := testdir.New(t)
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

	vol := k.NewVolume(root)
	remover, ok := vol.(ports.AbandonedRemover)
	if !ok {
		t.Fatalf("%T is not a ports.AbandonedRemover", vol)
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
	files(true)
	if st, err := vol.Open(creatorID); !errors.Is(err, ports.ErrChannelNotReady) {
		if st != nil {
			st.Close()
		}
		t.Fatalf("Open while the creator is at work: %v, want ErrChannelNotReady", err)
	}
	if err := remover.RemoveAbandoned(creatorID); !errors.Is(err, ports.ErrChannelNotReady) {
		t.Fatalf("RemoveAbandoned while the creator is at work: %v, want ErrChannelNotReady", err)
	}
	files(true)

	killed = true
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	files(true) // a killed creator cleans nothing up
	if st, err := vol.Open(creatorID); !errors.Is(err, ports.ErrChannelNotReady) {
		if st != nil {
			st.Close()
		}
		t.Fatalf("Open after the creator died: %v, want ErrChannelNotReady (its lock file is there)", err)
	}
	if err := remover.RemoveAbandoned(creatorID); err != nil {
		t.Fatalf("RemoveAbandoned after the creator died: %v", err)
	}
	files(false)
	if err := remover.RemoveAbandoned(creatorID); !errors.Is(err, ports.ErrChannelNotFound) {
		t.Fatalf("second RemoveAbandoned: %v, want ErrChannelNotFound", err)
	}
	st, err := vol.Create(creatorID, 1<<16, func(ports.Storage) error { return nil })
	if err != nil {
		t.Fatalf("Create after RemoveAbandoned: %v", err)
	}
	st.Close()
}
