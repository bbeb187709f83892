package layout_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"

	"github.com/kekbit-go/kekbit/internal/layout"
	"github.com/kekbit-go/kekbit/internal/testdir"
	"github.com/kekbit-go/kekbit/ports"
)

func TestStripPath(t *testing.T) {
	err := &fs.PathError{Op: "open", Path: "/x/y.kekbit", Err: os.NewSyscallError("fallocate", syscall.ENOSPC)}
	got := layout.StripPath(err)
	if got != syscall.ENOSPC || !errors.Is(got, syscall.ENOSPC) {
		t.Errorf("StripPath(%v) = %#v", err, got)
	}
	if layout.StripPath(nil) != nil {
		t.Errorf("StripPath(nil) is not nil")
	}
	other := errors.New("other")
	if layout.StripPath(other) != other {
		t.Errorf("StripPath changed an error with no path")
	}
}

func TestChannelError(t *testing.T) {
	path := filepath.Join("live", "0000_0000", "0000_0008.kekbit")
	_, openErr := os.Open(path)
	reason := fmt.Errorf("%w: %w", ports.ErrChannelNotFound, layout.StripPath(openErr))
	sys := layout.StripPath(openErr).Error() // "no such file or directory" on Unix
	for _, c := range []struct {
		ch   layout.Channel
		want string
	}{
		{layout.VolumeChannel("live", 8), "kekbit: open channel 0x8 (" + path + "): channel not found: " + sys},
		{layout.FileChannel(path), "kekbit: open channel file " + path + ": channel not found: " + sys},
	} {
		err := c.ch.Error(layout.OpOpen, reason)
		if err.Error() != c.want {
			t.Errorf("%+v: %q, want %q", c.ch, err, c.want)
		}
		if !errors.Is(err, reason) {
			t.Errorf("%+v: %v does not wrap the reason", c.ch, err)
		}
	}
	var ce *ports.ChannelError
	if err := layout.VolumeChannel("live", 8).Error(layout.OpCreate, ports.ErrChannelExists); !errors.As(err, &ce) ||
		ce.Op != "create" || ce.ChannelID != 8 || ce.Path != path {
		t.Errorf("VolumeChannel's error: %#v", err)
	}
}

// TestOSFileLocks: flock's locks belong to the open file: two open files
// of one file conflict, in one process too.
func TestOSFileLocks(t *testing.T) {
	if !layout.Flock {
		t.Skip("no flock here")
	}
	path := filepath.Join(testdir.New(t), "f")
	open := func() layout.OSFile {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return layout.OSFile{File: f}
	}
	a, b := open(), open()
	if err := a.TryLock(); err != nil {
		t.Fatal(err)
	}
	if err := b.TryLock(); !errors.Is(err, layout.ErrLocked) {
		t.Fatalf("second exclusive lock: %v, want ErrLocked", err)
	}
	if held, err := layout.WriterHolds(b); !held || err != nil {
		t.Fatalf("WriterHolds while a holds the lock = %v, %v", held, err)
	}
	if err := a.Unlock(); err != nil {
		t.Fatal(err)
	}
	if held, err := layout.WriterHolds(b); held || err != nil {
		t.Fatalf("WriterHolds with no lock = %v, %v", held, err)
	}
	if err := b.TryLock(); err != nil {
		t.Fatalf("exclusive lock after the probe: %v", err)
	}
	b.Close() // Close releases
	if err := a.TryLock(); err != nil {
		t.Fatalf("exclusive lock after the holder closed: %v", err)
	}

	if linked, err := a.LinkedAt(path); !linked || err != nil {
		t.Fatalf("LinkedAt its own path = %v, %v", linked, err)
	}
	if runtime.GOOS == "windows" {
		// Windows refuses to remove a file that is open (a sharing
		// violation), where Unix unlinks it: the file stays linked.
		if err := os.Remove(path); err == nil {
			t.Fatal("Remove of an open file succeeded on Windows")
		}
		if linked, err := a.LinkedAt(path); !linked || err != nil {
			t.Fatalf("LinkedAt after a refused Remove = %v, %v", linked, err)
		}
		return
	}
	os.Remove(path)
	if linked, err := a.LinkedAt(path); linked || err != nil {
		t.Fatalf("LinkedAt after Remove = %v, %v", linked, err)
	}
	open()
	if linked, err := a.LinkedAt(path); linked || err != nil {
		t.Fatalf("LinkedAt after Remove and a new file = %v, %v", linked, err)
	}
}

// TestOSFileLockLeavesBytesFree: a held lock keeps no other open file from
// reading or writing the file's bytes. flock is advisory; Windows' locks
// are mandatory for the bytes they cover, so OSFile locks a byte far past
// any file's end there, and this shows the channel's own bytes stay free.
// (Wine 8 does not enforce Windows' mandatory locks: there this passes
// whatever the locked range; on Windows it fails if the lock covered the
// bytes.)
func TestOSFileLockLeavesBytesFree(t *testing.T) {
	if !layout.Flock {
		t.Skip("no flock here")
	}
	path := filepath.Join(testdir.New(t), "f")
	if err := os.WriteFile(path, []byte("channel bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	open := func() layout.OSFile {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return layout.OSFile{File: f}
	}
	a, b := open(), open()
	if err := a.TryLock(); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 7)
	if _, err := b.ReadAt(got, 0); err != nil || string(got) != "channel" {
		t.Fatalf("ReadAt through another file while the lock is held = %q, %v", got, err)
	}
	if _, err := b.WriteAt([]byte("CHANNEL"), 0); err != nil {
		t.Fatalf("WriteAt through another file while the lock is held: %v", err)
	}
	if _, err := a.ReadAt(got, 0); err != nil || string(got) != "CHANNEL" {
		t.Fatalf("ReadAt through the holder = %q, %v", got, err)
	}
	if st, err := b.Stat(); err != nil || st.Size() != int64(len("channel bytes")) {
		t.Fatalf("the lock changed the file's length: %v, %v", st, err)
	}
}
