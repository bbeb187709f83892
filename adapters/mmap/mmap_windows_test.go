//go:build windows

package mmap_test

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/windows"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/internal/channeltest"
	"github.com/kekbit-go/kekbit/internal/testdir"
	"github.com/kekbit-go/kekbit/ports"
)

// The errors the block reservation (FileAllocationInfo) answers for a full
// disk and for a file system that cannot reserve blocks.
var errDiskFull, errNoFallocate error = windows.ERROR_DISK_FULL, windows.ERROR_INVALID_PARAMETER

// setFallocate replaces the package's fallocate for one test.
func setFallocate(t *testing.T, f func(windows.Handle, int64) error) {
	t.Helper()
	old := *mmap.Fallocate
	*mmap.Fallocate = f
	t.Cleanup(func() { *mmap.Fallocate = old })
}

// failFallocate makes the package's fallocate fail with err for one test.
func failFallocate(t *testing.T, err error) {
	setFallocate(t, func(windows.Handle, int64) error { return err })
}

// allocated returns the length of the file at path and the bytes of disk
// allocated to it (FILE_STANDARD_INFO).
func allocated(t *testing.T, path string) (size, alloc int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var info [24]byte // AllocationSize, EndOfFile, NumberOfLinks, DeletePending, Directory
	if err := windows.GetFileInformationByHandleEx(windows.Handle(f.Fd()), windows.FileStandardInfo, &info[0], uint32(len(info))); err != nil {
		t.Fatal(err)
	}
	return int64(binary.LittleEndian.Uint64(info[8:])), int64(binary.LittleEndian.Uint64(info[:8]))
}

// TestWindowsRefusesCutAndRemove: Windows does not let a mapped file be
// cut short nor an open one be removed, both of which Linux allows. The
// cut fails (ERROR_USER_MAPPED_FILE) and the mappings keep working; Remove
// and RemoveAbandoned fail with a *ports.ChannelError and leave the channel
// as it was; once every Storage is closed, Remove works.
func TestWindowsRefusesCutAndRemove(t *testing.T) {
	root := testdir.New(t)
	vol := mmap.NewVolume(root)
	const id = 0x51
	w, err := domain.Create(vol, channeltest.Header(t, id, 64<<10), codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("before the cut")); err != nil {
		t.Fatal(err)
	}
	r, _ := openReader(t, vol, id)
	path := vol.Path(id)
	if err := os.Truncate(path, 1024); err == nil {
		t.Fatal("Truncate of a mapped channel file succeeded")
	} else {
		t.Logf("cut refused: %v", err)
	}
	if size, _ := allocated(t, path); size != channeltest.Header(t, id, 64<<10).FileSize() {
		t.Fatalf("the refused cut left a file of %d bytes", size)
	}
	var ce *ports.ChannelError
	err = vol.Remove(id)
	if !errors.As(err, &ce) || ce.ChannelID != id {
		t.Fatalf("Remove of an open channel: %v, want a *ports.ChannelError", err)
	}
	t.Logf("remove refused: %v", err)
	if err := vol.RemoveAbandoned(id); !errors.Is(err, ports.ErrWriterAlive) {
		t.Fatalf("RemoveAbandoned with the writer alive: %v, want ErrWriterAlive", err)
	}
	if _, err := w.Write([]byte("after")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, r)
	if len(got) != 2 || got[0] != "before the cut" || got[1] != "after" || !errors.Is(err, domain.ErrClosed) {
		t.Fatalf("read %q, %v", got, err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := vol.Remove(id); err != nil {
		t.Fatalf("Remove once every Storage is closed: %v", err)
	}
	if _, err := vol.Open(id); !errors.Is(err, ports.ErrChannelNotFound) {
		t.Fatalf("Open after Remove: %v, want ErrChannelNotFound", err)
	}
}

// TestRemoveWaitsOutABriefOpen: a file another handle holds for a moment
// is removed once that handle closes; one held throughout is refused with
// the sharing violation.
func TestRemoveWaitsOutABriefOpen(t *testing.T) {
	path := filepath.Join(testdir.New(t), "f.lock")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	go func() { time.Sleep(2 * time.Millisecond); f.Close(); close(closed) }()
	if err := mmap.RemoveFile(path); err != nil {
		t.Fatalf("remove of a file open for 2 ms: %v", err)
	}
	<-closed
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the file is still there: %v", err)
	}
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	g, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := mmap.RemoveFile(path); !errors.Is(err, windows.ERROR_SHARING_VIOLATION) {
		t.Fatalf("remove of a file held open: %v, want ERROR_SHARING_VIOLATION", err)
	}
}
