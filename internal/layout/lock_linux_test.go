//go:build linux

package layout_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/kekbit-go/kekbit/internal/layout"
)

// TestOFDLocks: on Linux the writer's lock is a write lock only a file
// open for writing takes; a file open read-only takes a read lock, which
// keeps the write lock out but is not seen as a writer; flock, which any
// reader can take, neither keeps the writer's lock out nor looks like it.
func TestOFDLocks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	open := func(flag int) layout.OSFile {
		f, err := os.OpenFile(path, flag, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return layout.OSFile{File: f}
	}
	reader, other, writer := open(os.O_RDONLY), open(os.O_RDONLY), open(os.O_RDWR)
	if err := unix.Flock(int(reader.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	if held, err := layout.WriterHolds(other); held || err != nil {
		t.Errorf("WriterHolds with a reader's flock = %v, %v; want false", held, err)
	}
	if err := reader.TryLock(); err != nil {
		t.Fatalf("read-only TryLock: %v", err)
	}
	if err := other.TryLock(); err != nil {
		t.Errorf("a second read lock: %v", err)
	}
	if held, err := layout.WriterHolds(writer); held || err != nil {
		t.Errorf("WriterHolds with read locks only = %v, %v; want false", held, err)
	}
	if err := writer.TryLock(); !errors.Is(err, layout.ErrLocked) {
		t.Errorf("the writer's lock while read locks are held: %v, want ErrLocked", err)
	}
	reader.Unlock()
	other.Unlock()
	if err := writer.TryLock(); err != nil {
		t.Fatalf("the writer's lock with a reader's flock held: %v", err)
	}
	if held, err := layout.WriterHolds(reader); !held || err != nil {
		t.Errorf("WriterHolds with the writer's lock = %v, %v; want true", held, err)
	}
	if err := reader.TryLock(); !errors.Is(err, layout.ErrLocked) {
		t.Errorf("a read lock while the writer's is held: %v, want ErrLocked", err)
	}
}
