//go:build linux

package mmap_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/ports"
)

// TestFileVolumeRemoveAbandoned: a FileVolume removes its file as a Volume
// removes a channel: not while its writer holds it, not while a live
// creator holds its lock file, at once after the writer closed it or when
// a dead creator's lock file is all that is left; ErrChannelNotFound when
// there is nothing.
func TestFileVolumeRemoveAbandoned(t *testing.T) {
	path := filepath.Join(t.TempDir(), "copy.kekbit")
	vol := mmap.NewFileVolume(path)
	var _ ports.AbandonedRemover = vol
	if err := vol.RemoveAbandoned(0); !errors.Is(err, ports.ErrChannelNotFound) {
		t.Fatalf("nothing there: %v, want ErrChannelNotFound", err)
	}
	st, err := mmap.CreateFile(path, 1<<14, func(ports.Storage) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if err := vol.RemoveAbandoned(0); !errors.Is(err, ports.ErrWriterAlive) {
		t.Fatalf("writer alive: %v, want ErrWriterAlive", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("a refused RemoveAbandoned removed the file: %v", err)
	}
	st.Close()
	if err := vol.RemoveAbandoned(0); err != nil {
		t.Fatalf("after the writer closed: %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("the file is still there: %v", err)
	}

	// A creator at work holds its lock file's lock: refused. Made inside
	// the create's init, which runs while the lock file is held.
	_, err = mmap.CreateFile(path, 1<<14, func(ports.Storage) error {
		if err := vol.RemoveAbandoned(0); !errors.Is(err, ports.ErrChannelNotReady) {
			t.Errorf("creator at work: %v, want ErrChannelNotReady", err)
		}
		return errors.New("stop here")
	})
	if err == nil {
		t.Fatal("the create went on")
	}
	// A dead creator's leftovers: a lock file nobody holds and a file.
	if err := os.WriteFile(path, make([]byte, 1<<14), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mmap.LockPath(path), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := vol.RemoveAbandoned(0); err != nil {
		t.Fatalf("dead creator's leftovers: %v", err)
	}
	for _, p := range []string{path, mmap.LockPath(path)} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s is still there: %v", p, err)
		}
	}
}
