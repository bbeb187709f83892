//go:build linux

package mmap

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// Linux's own system calls: fallocate for the block reservation and
// madvise MADV_POPULATE_* for the pretouch; the rest is sys_unix.go.

// fallocate reserves the blocks of the first size bytes of fd and sets its
// length. It is a variable so that tests can make it fail (ENOSPC).
var fallocate = func(fd int, size int64) error {
	return unix.Fallocate(fd, 0, 0, size)
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
