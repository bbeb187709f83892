//go:build linux

package layout

import "golang.org/x/sys/unix"

// ByteLocks tells whether OSFile's byte locks (the slot locks of a
// multi-writer channel) work on this system: on Linux, as open file
// description locks (see lock_linux.go).
const ByteLocks = true

// LockByte takes the write lock on byte off of the file without waiting
// (ErrLocked if another open file holds a lock on it) and then keeps no
// other lock of this open file: a creator that held the whole file keeps
// only the byte. It needs the file open for writing, so a reader cannot
// take it.
func (f OSFile) LockByte(off int64) error {
	if err := f.ofdRange(unix.F_OFD_SETLK, unix.F_WRLCK, off, 1); err != nil {
		return err
	}
	if off > 0 {
		if err := f.ofdRange(unix.F_OFD_SETLK, unix.F_UNLCK, 0, off); err != nil {
			return err
		}
	}
	if err := f.ofdRange(unix.F_OFD_SETLK, unix.F_UNLCK, off+1, 0); err != nil {
		return err
	}
	return f.flock(unix.LOCK_UN)
}

// UnlockByte releases this open file's lock on byte off.
func (f OSFile) UnlockByte(off int64) error {
	return f.ofdRange(unix.F_OFD_SETLK, unix.F_UNLCK, off, 1)
}

// ByteLocked reports whether another open file holds the write lock on
// byte off, without taking a lock.
func (f OSFile) ByteLocked(off int64) (bool, error) { return f.writeLockedAt(off, 1) }
