//go:build linux || darwin || freebsd

package mmap

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"

	"github.com/kekbit-go/kekbit/internal/layout"
)

// This file holds the system calls the Unix systems share (mmap, munmap,
// msync, through golang.org/x/sys/unix); the block reservation (fallocate)
// and the pretouch (populate) are each system's own, in sys_linux.go,
// sys_darwin.go, sys_freebsd.go and touch_bsd.go. The flock of the
// channel-file protocol is layout.OSFile's. sys_windows.go is the Windows
// twin; sys_other.go stands in where neither is available.

// reserve gives the new, empty file f a length of size bytes with every
// block allocated, so that a full disk fails here and not later as a SIGBUS
// on a store into the mapping. Where the system's call is not supported
// (an error matching errors.ErrUnsupported) it writes zeros, which
// allocates the blocks too.
func reserve(f *os.File, size int64) error {
	err := retryEINTR(func() error { return fallocate(int(f.Fd()), size) })
	if err == nil {
		return nil
	}
	if !errors.Is(err, errors.ErrUnsupported) {
		return os.NewSyscallError("fallocate", err)
	}
	return layout.WriteZeros(f, size)
}

// mapFile maps the first size bytes of f, shared, read-write or read-only.
// A size of 0 maps nothing and returns an empty slice.
func mapFile(f *os.File, size int64, writable bool) ([]byte, error) {
	if size == 0 {
		return nil, nil
	}
	if int64(int(size)) != size {
		return nil, os.NewSyscallError("mmap", unix.EFBIG)
	}
	prot := unix.PROT_READ
	if writable {
		prot |= unix.PROT_WRITE
	}
	b, err := unix.Mmap(int(f.Fd()), 0, int(size), prot, unix.MAP_SHARED)
	if err != nil {
		return nil, os.NewSyscallError("mmap", err)
	}
	return b, nil
}

// unmap releases a mapping made by mapFile.
func unmap(b []byte) error {
	if b == nil {
		return nil
	}
	return os.NewSyscallError("munmap", unix.Munmap(b))
}

// syncMapping writes the dirty pages of a mapping to its file and waits.
func syncMapping(b []byte) error {
	if b == nil {
		return nil
	}
	return os.NewSyscallError("msync", unix.Msync(b, unix.MS_SYNC))
}

// retryEINTR calls f again while it fails with EINTR: fallocate on tmpfs
// gives up when a signal arrives, and the Go runtime sends signals often.
func retryEINTR(f func() error) error {
	for {
		if err := f(); err != unix.EINTR {
			return err
		}
	}
}

// syncFile does nothing: msync MS_SYNC (syncMapping) has waited for the
// pages already.
func syncFile(*os.File) error { return nil }

// removeFile is os.Remove: Unix removes a file that is open.
func removeFile(name string) error { return os.Remove(name) }
