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
// be created afresh: by the volume's ClearDeadCreator (Create's own
// take-over), which leaves a ready channel, and one a live creator is
// making (errCreatorAtWork). A volume without it is taken as one whose
// creators cannot die apart from this process (nothing is removed). It
// reports whether it removed anything.
func clearDeadCreation(vol ports.Volume, id uint64) (bool, error) {
	dc, ok := vol.(ports.DeadCreatorClearer)
	if !ok {
		return false, nil
	}
	removed, err := dc.ClearDeadCreator(id)
	if errors.Is(err, ports.ErrChannelNotReady) {
		return false, fmt.Errorf("%w: %w", errCreatorAtWork, err)
	}
	return removed, err
}
