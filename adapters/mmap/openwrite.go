package mmap

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"time"

	"go.uber.org/multierr"

	"github.com/kekbit-go/kekbit/internal/layout"
	"github.com/kekbit-go/kekbit/ports"
)

// ErrWriterAlive is returned by OpenForWrite when a writer holds the
// channel: its process is running and has not closed or released it.
var ErrWriterAlive = errors.New("kekbit: mmap: the channel's writer is alive")

// OpenForWrite maps channel id's file read-write and takes the writer's
// flock, for a new writer to carry on a channel whose writer is gone (see
// domain.Resume). It refuses a channel whose writer is alive
// (ErrWriterAlive), one still being created (ports.ErrChannelNotReady) and
// a missing one (ports.ErrChannelNotFound). The lock is held until the
// Storage is closed.
func (v *Volume) OpenForWrite(id uint64) (*Storage, error) {
	path := v.Path(id)
	return openForWrite(fmt.Sprintf("channel %#x (%s)", id, path), path)
}

// OpenForWrite is Volume.OpenForWrite for the channel file at path, whatever
// its name and folder; the lock file next to it (path with .lock for
// .kekbit) is honoured as Volume.Open honours it.
func OpenForWrite(path string) (*Storage, error) { return openForWrite(path, path) }

// openForWrite opens the file read-write and takes the writer's flock. A
// creator holds the flock from the moment its file exists until its writer
// closes, and keeps the lock file until the channel is ready: so once the
// flock is ours, no lock file means no creator is at work and no writer is
// alive.
func openForWrite(name, path string) (_ *Storage, err error) {
	if err := layout.NotReady(osFS{}, "mmap", name, path); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s: %w", ports.ErrChannelNotFound, name, err)
	}
	if err != nil {
		return nil, fmt.Errorf("kekbit: mmap: opening %s for writing: %w", name, err)
	}
	defer func() {
		if err != nil {
			err = multierr.Append(err, f.Close())
		}
	}()
	// Readers probe the writer's lock with a shared lock for an instant
	// (WriterAlive): wait those out; a lock held longer is a writer's.
	err = lockExclusive(f)
	for deadline := time.Now().Add(10 * time.Millisecond); errors.Is(err, syscall.EWOULDBLOCK) && time.Now().Before(deadline); {
		time.Sleep(100 * time.Microsecond)
		err = lockExclusive(f)
	}
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return nil, fmt.Errorf("%w: %s", ErrWriterAlive, name)
	}
	if err != nil {
		return nil, fmt.Errorf("kekbit: mmap: locking %s: %w", name, err)
	}
	if err := layout.NotReady(osFS{}, "mmap", name, path); err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("kekbit: mmap: opening %s for writing: %w", name, err)
	}
	if unlinked(fi) {
		return nil, fmt.Errorf("%w: %s was removed while being opened", ports.ErrChannelNotFound, name)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("kekbit: mmap: opening %s for writing: not a regular file (%v)", name, fi.Mode())
	}
	return newStorage(path, f, fi.Size(), true)
}
