package layout

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/kekbit-go/kekbit/internal/testdir"
	"github.com/kekbit-go/kekbit/ports"
)

// onOpen is OSFS with a hook that runs before each OpenFile.
type onOpen struct {
	OSFS
	hook func(name string)
}

func (o onOpen) OpenFile(name string, write bool) (OSFile, error) {
	o.hook(name)
	return o.OSFS.OpenFile(name, write)
}

// TestTakeOverKeepsAReadyChannel: Create's take-over (takeOver) found the
// lock file free, the sign of a dead creator; but the creator was alive,
// between closing its lock file and removing it, and by the time the
// take-over looked at the channel file it had made the channel ready,
// written it and let it go. The channel must stay. Before, it was removed
// with every record in it: two `kekbit write --multi-writer` started at
// once lost one writer's 2,000 lines about one time in fifty, both
// exiting 0.
func TestTakeOverKeepsAReadyChannel(t *testing.T) {
	dir := testdir.New(t)
	path := filepath.Join(dir, "0000_0007.kekbit")
	lockPath := LockPath(path)
	data := []byte("a finished channel's bytes")
	if err := os.WriteFile(path, data, FileMode); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lockPath, nil, FileMode); err != nil { // closed, not yet removed
		t.Fatal(err)
	}
	finished := false
	b := onOpen{hook: func(name string) {
		if name == path && !finished { // the creator's step 7, then its writer's whole life
			finished = true
			if err := os.Remove(lockPath); err != nil {
				t.Error(err)
			}
		}
	}}
	if err := takeOver[OSFile](b, path); err != nil {
		t.Fatalf("takeOver: %v", err)
	}
	if !finished {
		t.Fatal("the take-over never opened the channel file: the test no longer tests the race")
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != string(data) {
		t.Fatalf("the ready channel's file after the take-over: %q, %v; want it kept", got, err)
	}
	if err := vacant[OSFile](b, path); err == nil {
		t.Error("vacant: nil for a path whose channel exists")
	}

	// A creator that really died: its lock file stays, and the take-over
	// removes both files.
	if err := os.WriteFile(lockPath, nil, FileMode); err != nil {
		t.Fatal(err)
	}
	if err := takeOver[OSFile](OSFS{}, path); err != nil {
		t.Fatalf("takeOver of a dead creator's files: %v", err)
	}
	for _, p := range []string{path, lockPath} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s after taking over from a dead creator: %v, want it removed", p, err)
		}
	}
}

// TestTakeOverLooksTwice: a Create found a lock file free, but it was a
// live creator's, made an instant before it takes its lock (that Create
// found no channel file, then another finished creating one, which is
// there now, ready and let go by its writer). The take-over looks again
// after a while, finds the lock taken, and keeps the ready channel; it
// removed it before (a review's finding). The creator takes its lock
// when the take-over opens the lock file a second time with no look at
// the channel file in between: its second look (with one look, the next
// open of the lock file is removeAbandoned's, after the channel file's).
func TestTakeOverLooksTwice(t *testing.T) {
	dir := testdir.New(t)
	path := filepath.Join(dir, "0000_0007.kekbit")
	lockPath := LockPath(path)
	data := []byte("a ready channel's bytes")
	if err := os.WriteFile(path, data, FileMode); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lockPath, nil, FileMode); err != nil { // made, not locked yet
		t.Fatal(err)
	}
	var o OSFS
	var lock OSFile
	var lockErr error
	last := ""
	b := onOpen{hook: func(name string) {
		if name == lockPath && last == lockPath && lock.File == nil {
			f, err := o.OpenFile(lockPath, true)
			if err == nil {
				lock, err = f, f.TryLock()
			}
			lockErr = err
		}
		last = name
	}}
	defer func() {
		if lock.File != nil {
			lock.Close()
		}
	}()
	err := takeOver[OSFile](b, path)
	if got, rerr := os.ReadFile(path); rerr != nil || string(got) != string(data) {
		t.Fatalf("the ready channel after the take-over (%v): %q, %v; want it kept", err, got, rerr)
	}
	if err != nil || lockErr != nil || lock.File == nil {
		t.Fatalf("takeOver: %v; the creator's lock: %v (taken: %v)", err, lockErr, lock.File != nil)
	}
}

// TestClearDeadCreator: only what a dead creator left is removed. A ready
// channel nobody holds (which RemoveAbandoned would remove) stays; a live
// creator's is ErrChannelNotReady; nothing at all is no error.
func TestClearDeadCreator(t *testing.T) {
	dir := testdir.New(t)
	o := OSFS{Root: dir}
	if err := o.MkdirAll(filepath.Join(dir, "0000_0000"), 0o700); err != nil {
		t.Fatal(err)
	}
	c := VolumeChannel(dir, 7)
	lockPath := LockPath(c.Path)
	clear := func(want bool) {
		t.Helper()
		if removed, err := ClearDeadCreator[OSFile](o, c); err != nil || removed != want {
			t.Fatalf("ClearDeadCreator = %v, %v; want %v, nil", removed, err, want)
		}
	}
	clear(false) // nothing there

	data := []byte("a ready channel nobody holds")
	if err := os.WriteFile(c.Path, data, FileMode); err != nil {
		t.Fatal(err)
	}
	clear(false)
	if got, err := os.ReadFile(c.Path); err != nil || string(got) != string(data) {
		t.Fatalf("the ready channel after ClearDeadCreator: %q, %v", got, err)
	}

	lock, err := makeLockFile[OSFile](o, lockPath) // a live creator's
	if err != nil {
		t.Fatal(err)
	}
	_, err = ClearDeadCreator[OSFile](o, c)
	var ce *ports.ChannelError
	if !errors.Is(err, ports.ErrChannelNotReady) || !errors.As(err, &ce) || ce.ChannelID != 7 {
		t.Fatalf("ClearDeadCreator with a live creator: %v; want ErrChannelNotReady naming channel 7", err)
	}
	lock.Close() // the creator dies
	clear(true)
	for _, p := range []string{c.Path, lockPath} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s after clearing a dead creator's files: %v, want it removed", p, err)
		}
	}
}
