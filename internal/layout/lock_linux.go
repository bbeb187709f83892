//go:build linux

package layout

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// On Linux the protocol's locks are open file description locks
// (fcntl F_OFD_SETLK on the whole file), which belong to the open file as
// flock's do and are dropped when the process dies, but which tell a
// writer from a reader: a write lock needs a file open for writing, so
// that a reader, who may open the channel read-only only, cannot take the
// lock that says a writer is alive. flock would let any reader fake it.
//
//   - TryLock on a file open for writing takes the write lock: the
//     writer's, or the creator's on its lock file. It also takes flock's
//     exclusive lock, if it can, for older versions of this package that
//     probe that; a reader's flock does not keep it out.
//   - TryLock on a file open read-only takes a read lock instead: what a
//     remover holds to keep a new writer out, which a live writer's lock
//     keeps out in turn.
//   - WriterLocked asks (F_OFD_GETLK) whether another open file holds a
//     write lock, and takes none: readers probe the writer this way.

var _ Prober = OSFile{}

// TryLock takes the file's write lock if it is open for writing, else its
// read lock, without waiting; ErrLocked if another open file holds a lock
// that conflicts.
func (f OSFile) TryLock() error {
	writable, err := f.writable()
	if err != nil {
		return err
	}
	if !writable {
		return f.ofd(unix.F_OFD_SETLK, unix.F_RDLCK)
	}
	if err := f.ofd(unix.F_OFD_SETLK, unix.F_WRLCK); err != nil {
		return err
	}
	if err := f.flock(unix.LOCK_EX | unix.LOCK_NB); err != nil && !errors.Is(err, ErrLocked) {
		return errors.Join(err, f.ofd(unix.F_OFD_SETLK, unix.F_UNLCK))
	}
	return nil
}

// TryRLock takes the file's read lock without waiting, or turns this open
// file's write lock into one; ErrLocked if another open file holds the
// write lock.
func (f OSFile) TryRLock() error { return f.ofd(unix.F_OFD_SETLK, unix.F_RDLCK) }

// Unlock releases this open file's locks.
func (f OSFile) Unlock() error {
	return errors.Join(f.ofd(unix.F_OFD_SETLK, unix.F_UNLCK), f.flock(unix.LOCK_UN))
}

// WriterLocked reports whether another open file holds the file's write
// lock, without taking a lock.
func (f OSFile) WriterLocked() (bool, error) { return f.writeLockedAt(0, 0) }

// writeLockedAt reports whether another open file holds a write lock on
// any of n bytes from off (n 0: to the end and beyond), without taking a
// lock (F_OFD_GETLK).
func (f OSFile) writeLockedAt(off, n int64) (bool, error) {
	lk := unix.Flock_t{Type: unix.F_RDLCK, Whence: 0, Start: off, Len: n}
	for {
		err := unix.FcntlFlock(f.Fd(), unix.F_OFD_GETLK, &lk)
		switch err {
		case nil:
			return lk.Type == unix.F_WRLCK, nil
		case unix.EINTR:
			continue
		}
		return false, os.NewSyscallError("fcntl F_OFD_GETLK", err)
	}
}

// ofd sets the open file description lock of type typ on the whole file
// (cmd F_OFD_SETLK), again while a signal interrupts it; a conflict is
// ErrLocked.
func (f OSFile) ofd(cmd int, typ int16) error { return f.ofdRange(cmd, typ, 0, 0) }

// ofdRange is ofd on n bytes from off (n 0: to the end and beyond).
func (f OSFile) ofdRange(cmd int, typ int16, off, n int64) error {
	lk := unix.Flock_t{Type: typ, Whence: 0, Start: off, Len: n}
	for {
		err := unix.FcntlFlock(f.Fd(), cmd, &lk)
		switch err {
		case nil:
			return nil
		case unix.EINTR:
			continue
		case unix.EAGAIN, unix.EACCES:
			return ErrLocked
		}
		return os.NewSyscallError("fcntl F_OFD_SETLK", err)
	}
}

// writable reports whether the file is open for writing.
func (f OSFile) writable() (bool, error) {
	fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
	if err != nil {
		return false, os.NewSyscallError("fcntl F_GETFL", err)
	}
	return fl&unix.O_ACCMODE != unix.O_RDONLY, nil
}
