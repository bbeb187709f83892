//go:build unix

package layout

import (
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Flock tells whether OSFile's locks work on this system: flock(2), and
// on Linux open file description locks (see lock_linux.go).
const Flock = true

// flock calls flock(2), again while a signal interrupts it; EWOULDBLOCK
// becomes ErrLocked.
func (f OSFile) flock(how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		switch err {
		case nil:
			return nil
		case unix.EINTR:
			continue
		case unix.EWOULDBLOCK:
			return ErrLocked
		}
		return os.NewSyscallError("flock", err)
	}
}

// OSFileID returns what tells the file fi describes from any other (its
// device and inode) if fi comes from the operating system, which is
// comparable with ==.
func OSFileID(fi fs.FileInfo) (any, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil, false
	}
	return [2]uint64{uint64(st.Dev), uint64(st.Ino)}, true
}

// closeToRemove says that this system removes a file that is open: the
// protocol removes a file while it still holds the file's lock.
const closeToRemove = false
