//go:build linux

package mmap

import (
	"errors"
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/kekbit-go/kekbit/internal/layout"
)

// This file holds every system call of the package: mmap, munmap, msync,
// madvise and fallocate (golang.org/x/sys/unix); the flock of the
// channel-file protocol is layout.OSFile's. sys_other.go stands in for it
// where they are not available.

// fallocate reserves the blocks of the first size bytes of fd and sets its
// length. It is a variable so that tests can make it fail (ENOSPC).
var fallocate = func(fd int, size int64) error {
	return unix.Fallocate(fd, 0, 0, size)
}

// reserve gives the new, empty file f a length of size bytes with every
// block allocated, so that a full disk fails here and not later as a SIGBUS
// on a store into the mapping. Where fallocate is not supported it writes
// zeros, which allocates the blocks too.
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

// populate faults in every page of mapping b: madvise POPULATE_WRITE on a
// writable mapping (the pages are allocated, as a write would), POPULATE_READ
// on a read-only one. Kernels before 5.14 lack these; then it touches one
// byte per page, rewriting it in place on a writable mapping.
func populate(b []byte, w []uint64, writable bool) error {
	if len(b) == 0 {
		return nil
	}
	advice := unix.MADV_POPULATE_READ
	if writable {
		advice = unix.MADV_POPULATE_WRITE
	}
	err := retryEINTR(func() error { return unix.Madvise(b, advice) })
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EINVAL) {
		return os.NewSyscallError("madvise", err)
	}
	touchPages(w, writable)
	return nil
}

// touchPages faults in every page of a mapping through its word view w:
// an atomic add of zero on a writable one (a real write, which the
// compiler cannot drop, that leaves the content as it is, whoever writes
// meanwhile), an atomic load on a read-only one.
func touchPages(w []uint64, writable bool) {
	step := os.Getpagesize() / 8
	for i := 0; i < len(w); i += step {
		if writable {
			atomic.AddUint64(&w[i], 0)
		} else {
			atomic.LoadUint64(&w[i])
		}
	}
}
