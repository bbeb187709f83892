//go:build unix && !linux

package layout

import "golang.org/x/sys/unix"

// TryLock takes flock's exclusive lock on the file without waiting.
func (f OSFile) TryLock() error { return f.flock(unix.LOCK_EX | unix.LOCK_NB) }

// TryRLock takes flock's shared lock on the file without waiting.
func (f OSFile) TryRLock() error { return f.flock(unix.LOCK_SH | unix.LOCK_NB) }

// Unlock releases the open file's flock.
func (f OSFile) Unlock() error { return f.flock(unix.LOCK_UN) }
