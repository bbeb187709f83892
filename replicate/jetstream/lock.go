package jetstream

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/internal/layout"
	"github.com/kekbit-go/kekbit/ports"
)

// channelPath returns the file of channel id in vol, if vol keeps its
// channels in operating-system files it can name.
func channelPath(vol ports.Volume, id uint64) (string, bool) {
	switch v := vol.(type) {
	case *mmap.Volume:
		return v.Path(id), true
	case *mmap.FileVolume:
		return v.Path(), true
	}
	return "", false
}

// ReplicatorLockPath returns the lock file a replicator of the channel
// file at channelPath into stream holds for as long as it runs:
// "<channel file>.replicate-<stream>", next to the channel file.
func ReplicatorLockPath(channelPath, stream string) string {
	return channelPath + ".replicate-" + stream
}

// fileLock is an exclusive flock(2) on a lock file of ours, held by this
// process until release, dropped by the kernel if the process dies.
type fileLock struct {
	f    layout.OSFile
	path string
}

// lockFile takes the lock on the file at path, creating it, and writes
// this process's id into it. It returns busy (the lock's holder's id, or
// "?") if another open file holds the lock, and a nil lock without error
// where the system has no flock.
func lockFile(path string) (l *fileLock, busy string, err error) {
	for range 3 {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, "", err
		}
		lf := layout.OSFile{File: f}
		switch err := lf.TryLock(); {
		case errors.Is(err, layout.ErrLocked):
			b := make([]byte, 32)
			n, _ := f.ReadAt(b, 0)
			f.Close()
			if pid := strings.TrimSpace(string(b[:n])); pid != "" {
				return nil, pid, nil
			}
			return nil, "?", nil
		case errors.Is(err, errors.ErrUnsupported):
			f.Close()
			return nil, "", nil
		case err != nil:
			f.Close()
			return nil, "", err
		}
		// The holder before us may have removed the file as it let the
		// lock go: then ours is on a file no one else will find.
		linked, err := lf.LinkedAt(path)
		if err != nil || !linked {
			f.Close()
			if err != nil {
				return nil, "", err
			}
			continue
		}
		pid := strconv.Itoa(os.Getpid()) + "\n"
		if err := f.Truncate(0); err == nil {
			f.WriteAt([]byte(pid), 0)
		}
		return &fileLock{f: lf, path: path}, "", nil
	}
	return nil, "", fmt.Errorf("kekbit: jetstream: lock file %s keeps being replaced", path)
}

// release removes the lock file, then lets the lock go: whoever waited on
// the removed file sees it is no longer at its path and tries again.
func (l *fileLock) release() {
	if l != nil {
		os.Remove(l.path)
		l.f.Close()
	}
}

// lockReplication takes the replicator's lock file of the channel in vol
// and stream: ErrReplicatorRunning if another process or replicator holds
// it. A volume whose files it cannot name, or a system without flock,
// takes no lock (nil).
func lockReplication(vol ports.Volume, id uint64, stream string) (*fileLock, error) {
	path, ok := channelPath(vol, id)
	if !ok {
		return nil, nil
	}
	lockPath := ReplicatorLockPath(path, stream)
	l, busy, err := lockFile(lockPath)
	if err != nil {
		return nil, fmt.Errorf("kekbit: jetstream: locking %s: %w", lockPath, err)
	}
	if busy != "" {
		return nil, fmt.Errorf("%w: channel %s into stream %s, by process %s (it holds %s)", ErrReplicatorRunning, hexID(id), stream, busy, lockPath)
	}
	return l, nil
}

// errCreatorAtWork: a live process is creating the mirror channel (it
// holds the creator's lock on the channel's lock file); the mirror waits
// for it, retrying.
var errCreatorAtWork = errors.New("kekbit: jetstream: the mirror channel is being created by another process")

// clearDeadCreation removes what a process killed while creating channel
// id of vol left (the channel's lock file, which no creator holds any
// more, and the channel file as far as it got), so that the channel can
// be created afresh; it leaves a ready channel, one a live creator is
// making (errCreatorAtWork) and one whose writer is alive alone. It
// reports whether it removed anything.
func clearDeadCreation(vol ports.Volume, id uint64) (bool, error) {
	switch v := vol.(type) {
	case *mmap.FileVolume:
		return clearDeadCreationAt(v.Path())
	case ports.AbandonedRemover:
		st, err := vol.Open(id)
		if err == nil {
			st.Close()
		}
		if !errors.Is(err, ports.ErrChannelNotReady) {
			return false, nil // no lock file: ready, or nothing at all
		}
		switch err := v.RemoveAbandoned(id); {
		case err == nil:
			return true, nil
		case errors.Is(err, ports.ErrChannelNotFound):
			return false, nil
		case errors.Is(err, ports.ErrChannelNotReady), errors.Is(err, ports.ErrWriterAlive):
			return false, fmt.Errorf("%w: %w", errCreatorAtWork, err)
		default:
			return false, err
		}
	}
	return false, nil
}

// clearDeadCreationAt is clearDeadCreation for the channel file at path
// (mmap.CreateFile's protocol: the lock file mmap.LockPath(path) exists,
// locked by its creator, until the channel is ready).
func clearDeadCreationAt(path string) (bool, error) {
	lockPath := mmap.LockPath(path)
	f, err := os.Open(lockPath)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	lock := layout.OSFile{File: f}
	switch err := lock.TryLock(); {
	case errors.Is(err, layout.ErrLocked):
		return false, fmt.Errorf("%w: %s is locked", errCreatorAtWork, lockPath)
	case errors.Is(err, errors.ErrUnsupported):
		return false, nil // who made it cannot be told here
	case err != nil:
		return false, fmt.Errorf("kekbit: jetstream: locking %s: %w", lockPath, err)
	}
	if linked, err := lock.LinkedAt(lockPath); err != nil || !linked {
		return false, err // gone meanwhile: its creator finished
	}
	// The creator is dead. Its channel file, if it made one, holds no
	// writer's lock either, unless someone took the channel over.
	if cf, err := os.Open(path); err == nil {
		err := layout.OSFile{File: cf}.TryLock()
		cf.Close()
		if errors.Is(err, layout.ErrLocked) {
			return false, fmt.Errorf("%w: %s is locked by a writer", errCreatorAtWork, path)
		}
	}
	// The channel file first, the lock file last, as a failed create
	// leaves them.
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("kekbit: jetstream: removing a dead creator's %s: %w", path, err)
	}
	if err := os.Remove(lockPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("kekbit: jetstream: removing a dead creator's %s: %w", lockPath, err)
	}
	return true, nil
}
