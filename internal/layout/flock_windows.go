//go:build windows

package layout

import (
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/windows"
)

// Flock tells whether OSFile's locks work on this system: yes, through
// LockFileEx, which has flock's semantics where the protocol needs them: a
// lock belongs to the open file (the handle), two handles of one file
// conflict in one process too, and the system drops the locks of a process
// that ends, however it ends.
const Flock = true

// Windows' locks are mandatory for the bytes they cover: a locked range
// cannot be read or written through another handle. So OSFile locks one
// byte far past any channel's end (locks may lie past the end of a file),
// which no read or write ever touches, and the channel's bytes stay free for
// every handle and mapping.
const (
	lockOffset = 1<<63 - 2 // the last lockable byte but one: no file is that long
	lockLength = 1
)

// TryLock takes an exclusive lock on the file without waiting. Unlike
// flock, it does not turn this handle's own shared lock into an exclusive
// one: that answers ErrLocked (the protocol never asks for it).
func (f OSFile) TryLock() error {
	return f.lockFileEx(windows.LOCKFILE_EXCLUSIVE_LOCK | windows.LOCKFILE_FAIL_IMMEDIATELY)
}

// TryRLock takes a shared lock on the file without waiting. Unlike flock,
// it does not turn this handle's own exclusive lock into a shared one: that
// answers ErrLocked (the protocol never asks for it).
func (f OSFile) TryRLock() error { return f.lockFileEx(windows.LOCKFILE_FAIL_IMMEDIATELY) }

// Unlock releases the handle's lock; a handle that holds none is not an
// error.
func (f OSFile) Unlock() error {
	err := windows.UnlockFileEx(windows.Handle(f.Fd()), 0, lockLength, 0, lockRange())
	if err == nil || errors.Is(err, windows.ERROR_NOT_LOCKED) {
		return nil
	}
	return os.NewSyscallError("UnlockFileEx", err)
}

// lockFileEx calls LockFileEx on the lock byte; a lock held through
// another handle becomes ErrLocked.
func (f OSFile) lockFileEx(flags uint32) error {
	err := windows.LockFileEx(windows.Handle(f.Fd()), flags, 0, lockLength, 0, lockRange())
	switch {
	case err == nil:
		return nil
	case errors.Is(err, windows.ERROR_LOCK_VIOLATION), errors.Is(err, windows.ERROR_IO_PENDING):
		return ErrLocked
	}
	return os.NewSyscallError("LockFileEx", err)
}

// lockRange returns the OVERLAPPED that places a lock at lockOffset.
func lockRange() *windows.Overlapped {
	return &windows.Overlapped{Offset: uint32(lockOffset & 0xFFFF_FFFF), OffsetHigh: uint32(lockOffset >> 32)}
}

// OSFileID reports that it cannot tell files apart from a FileInfo alone
// on this system (os.SameFile can, given both).
func OSFileID(fs.FileInfo) (any, bool) { return nil, false }

// closeToRemove says that this system removes no file that is open, even
// through the remover's own handle: the protocol closes its lock files and
// channel files before it removes them.
const closeToRemove = true
