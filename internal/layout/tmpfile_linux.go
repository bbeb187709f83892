package layout

import (
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// noTmpfile makes openUnnamed fail, for the tests of the fallback.
var noTmpfile bool

// procFD reports whether /proc/self/fd is there, through which an
// unnamed file is linked.
var procFD = sync.OnceValue(func() bool { return unix.Access("/proc/self/fd", unix.X_OK) == nil })

// openUnnamed opens a new file with no name in the open folder dirfd
// (O_TMPFILE), read-write, with FileMode; an error where the kernel, the
// file system or a missing /proc cannot make or link one.
func openUnnamed(dirfd int) (int, error) {
	if noTmpfile || !procFD() {
		return -1, unix.EOPNOTSUPP
	}
	return unix.Openat(dirfd, ".", unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, FileMode)
}

// linkUnnamed links the unnamed file fd into the open folder dirfd as
// last, which fails if last exists. linkat with AT_EMPTY_PATH needs a
// privilege; through the file's /proc entry it needs none.
func linkUnnamed(fd, dirfd int, last string) error {
	return linkat(unix.AT_FDCWD, fmt.Sprintf("/proc/self/fd/%d", fd), dirfd, last, unix.AT_SYMLINK_FOLLOW)
}
