//go:build darwin

package mmap

import (
	"errors"

	"golang.org/x/sys/unix"
)

// macOS's block reservation: fcntl F_PREALLOCATE, then ftruncate for the
// length (F_PREALLOCATE allocates blocks but leaves the length as it is).
// The rest is sys_unix.go.

// fallocate reserves the blocks of the first size bytes of the new, empty
// file fd and sets its length: contiguous blocks if the file system has
// them, any blocks else. A file system without F_PREALLOCATE answers
// ENOTSUP, which matches errors.ErrUnsupported: then reserve writes zeros.
// It is a variable so that tests can make it fail (ENOSPC).
var fallocate = func(fd int, size int64) error {
	st := unix.Fstore_t{Flags: unix.F_ALLOCATECONTIG | unix.F_ALLOCATEALL, Posmode: unix.F_PEOFPOSMODE, Length: size}
	err := unix.FcntlFstore(uintptr(fd), unix.F_PREALLOCATE, &st)
	if err != nil && !errors.Is(err, errors.ErrUnsupported) && err != unix.EINTR {
		st.Flags = unix.F_ALLOCATEALL // no contiguous run that long: any blocks
		err = unix.FcntlFstore(uintptr(fd), unix.F_PREALLOCATE, &st)
	}
	if err != nil {
		return err
	}
	return unix.Ftruncate(fd, size)
}
