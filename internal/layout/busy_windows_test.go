package layout

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/windows"

	"github.com/kekbit-go/kekbit/internal/testdir"
	"github.com/kekbit-go/kekbit/ports"
)

// TestLockFileBusy: a lock file another open file keeps from being opened
// (no sharing: a sharing violation, what a reader met under Wine while the
// channel's creator removed its lock file) makes the channel not ready, a
// state to wait out, instead of an error that ends the open (it did:
// ExampleTryShmReader panicked once in CI, "checking its lock file:
// Sharing violation").
func TestLockFileBusy(t *testing.T) {
	dir := testdir.New(t)
	path := filepath.Join(dir, "0000_0007.kekbit")
	lockPath := LockPath(path)
	if err := os.WriteFile(lockPath, nil, FileMode); err != nil {
		t.Fatal(err)
	}
	name, err := windows.UTF16PtrFromString(lockPath)
	if err != nil {
		t.Fatal(err)
	}
	h, err := windows.CreateFile(name, windows.GENERIC_READ, 0, nil, windows.OPEN_EXISTING, windows.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		t.Fatal(err)
	}
	var o OSFS
	if _, err := o.OpenFile(lockPath, false); !lockFileBusy(err) {
		windows.CloseHandle(h)
		t.Fatalf("opening a lock file held with no sharing: %v, want a sharing violation", err)
	}
	err = notReady[OSFile](o, path)
	windows.CloseHandle(h)
	if !errors.Is(err, ports.ErrChannelNotReady) {
		t.Fatalf("notReady with the lock file busy: %v, want ErrChannelNotReady", err)
	}
	if err := notReady[OSFile](o, path); !errors.Is(err, ports.ErrChannelNotReady) {
		t.Fatalf("notReady with a free lock file: %v, want ErrChannelNotReady (its creator died)", err)
	}
}
