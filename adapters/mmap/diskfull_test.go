//go:build linux

package mmap_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/internal/channeltest"
	"github.com/kekbit-go/kekbit/internal/testdir"
	"github.com/kekbit-go/kekbit/ports"
)

// These tests belong with the full-disk tests of the reliability package
// (reliability/diskfull_test.go) but need the fallocate hook, which only
// this package's tests can reach.

// assertRootEmpty fails if root holds anything: no channel file, no lock
// file, no channel folder.
func assertRootEmpty(t *testing.T, root string) {
	t.Helper()
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("left behind: %s", filepath.Join(root, e.Name()))
	}
}

// TestCreateDiskFullLeavesNoFolder: ENOSPC from fallocate, injected; the
// failed Create removes the channel's folder it made, as well as the
// files.
func TestCreateDiskFullLeavesNoFolder(t *testing.T) {
	setFallocate(t, func(int, int64) error { return unix.ENOSPC })
	root := testdir.New(t)
	vol := mmap.NewVolume(root)
	if _, err := domain.Create(vol, channeltest.Header(t, 0x0000_0009_0000_0001, 0), codecs.Raw{}); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Create on a full disk: %v, want ENOSPC", err)
	}
	assertRootEmpty(t, root)
}

// TestCreateDiskFullZeroFill: on a file system without fallocate, Create
// writes zeros to reserve the blocks; on a full one (a 64 KiB tmpfs) that
// write fails with ENOSPC, and nothing is left: no file, no folder, every
// block free again.
func TestCreateDiskFullZeroFill(t *testing.T) {
	setFallocate(t, func(int, int64) error { return unix.EOPNOTSUPP })
	root := testdir.Tmpfs(t, "size=64k")
	var before, after unix.Statfs_t
	if err := unix.Statfs(root, &before); err != nil {
		t.Fatal(err)
	}
	vol := mmap.NewVolume(root)
	const id = 0x0000_0009_0000_0002
	_, err := domain.Create(vol, channeltest.Header(t, id, 128<<10), codecs.Raw{})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Create of a 129 KiB channel on a 64 KiB tmpfs, zero-filled: %v, want ENOSPC", err)
	}
	assertRootEmpty(t, root)
	if err := unix.Statfs(root, &after); err != nil {
		t.Fatal(err)
	}
	if after.Bfree != before.Bfree || after.Ffree != before.Ffree {
		t.Errorf("free blocks %d and inodes %d before Create, %d and %d after",
			before.Bfree, before.Ffree, after.Bfree, after.Ffree)
	}
	if _, err := vol.Open(id); !errors.Is(err, ports.ErrChannelNotFound) {
		t.Errorf("Open after the failed Create: %v, want ErrChannelNotFound", err)
	}
	// A channel that fits is zero-filled and works.
	w, err := domain.Create(vol, channeltest.Header(t, id, 0), codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("fits")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, _ := openReader(t, vol, id)
	if got, err := readAll(t, r); !slices.Equal(got, []string{"fits"}) || !errors.Is(err, domain.ErrClosed) {
		t.Fatalf("read %q, %v", got, err)
	}
}
