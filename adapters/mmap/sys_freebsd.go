//go:build freebsd

package mmap

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// FreeBSD's block reservation: posix_fallocate(2), which golang.org/x/sys/unix
// does not wrap, called by its number. The rest is sys_unix.go.

// fallocate reserves the blocks of the first size bytes of fd and sets its
// length. ZFS, which cannot reserve blocks, answers EINVAL, and some file
// systems EOPNOTSUPP: both are reported as matching errors.ErrUnsupported,
// so that reserve writes zeros. It is a variable so that tests can make it
// fail (ENOSPC).
var fallocate = func(fd int, size int64) error {
	// posix_fallocate returns its error as the call's result, not in errno.
	r, _, errno := unix.Syscall(unix.SYS_POSIX_FALLOCATE, uintptr(fd), 0, uintptr(size))
	err := error(nil)
	switch {
	case errno != 0:
		err = errno
	case r != 0:
		err = unix.Errno(r)
	}
	if err == unix.EINVAL || err == unix.EOPNOTSUPP {
		return fmt.Errorf("%w: %w", err, errors.ErrUnsupported)
	}
	return err
}
