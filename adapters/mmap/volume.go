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

// fileMode is the permission of the files Create makes: anyone may read a
// channel, only its writer's user may write it (folders: layout.DirMode).
const fileMode = 0o644

// Volume is a folder of channel files laid out as the Rust crate lays them
// out (see ChannelPath). It implements ports.Volume; the Storages it returns
// are *Storage. A Volume holds only its root and is safe for concurrent use,
// by any number of processes.
type Volume struct {
	root     string
	pretouch bool
}

// VolumeOption configures a Volume.
type VolumeOption func(*Volume)

// WithPretouch makes Create fault in every page of a new channel before its
// writer starts (Storage.Pretouch), and Open every page of a reader's
// mapping, so that no page fault lands on the hot path. It makes Create and
// Open take longer: about a page fault per 4 KiB of capacity.
func WithPretouch() VolumeOption { return func(v *Volume) { v.pretouch = true } }

// NewVolume returns the volume rooted at root. The folder is made when the
// first channel is created.
func NewVolume(root string, opts ...VolumeOption) *Volume {
	v := &Volume{root: root}
	for _, o := range opts {
		o(v)
	}
	return v
}

// Root returns the volume's folder.
func (v *Volume) Root() string { return v.root }

// Path returns the path of channel id's file.
func (v *Volume) Path(id uint64) string { return ChannelPath(v.root, id) }

// Create makes channel id's file of size bytes, reserved on disk and
// zero-filled, runs init on it while the lock file keeps readers out, and
// returns it mapped read-write with the writer's flock held. It returns
// ports.ErrChannelExists if the channel exists or is being created, and an
// error wrapping the system's (syscall.ENOSPC for a full disk) if the file
// cannot be made; on any error no file is left behind, nor the channel's
// folder if Create made it and it is still empty.
func (v *Volume) Create(id uint64, size int64, init func(ports.Storage) error) (ports.Storage, error) {
	path := v.Path(id)
	name := fmt.Sprintf("channel %#x (%s)", id, path)
	if v.pretouch {
		initialize := init
		init = func(st ports.Storage) error {
			if err := st.(*Storage).Pretouch(); err != nil {
				return err
			}
			return initialize(st)
		}
	}
	var st *Storage
	_, err := layout.Create(osFS{}, "mmap", name, path, func() (ports.Storage, error) {
		var err error
		st, err = create(name, path, size, init)
		return st, err
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// CreateFile makes a channel file at path exactly as Volume.Create does,
// lock file (path with .lock for .kekbit) included, for a channel kept
// outside a volume's layout. The folder must exist.
func CreateFile(path string, size int64, init func(ports.Storage) error) (*Storage, error) {
	return create(path, path, size, init)
}

// create is the creation protocol:
//  1. create the lock file exclusively: from now on readers get "not ready"
//     and other writers "exists";
//  2. create the channel file exclusively and take its flock, held until
//     the writer's Close;
//  3. reserve its blocks (fallocate), so a full disk fails here;
//  4. map it read-write and run init (header, first heartbeat);
//  5. remove the lock file: the channel is ready.
//
// Any failure removes what was made, channel file first, lock file last.
func create(name, path string, size int64, init func(ports.Storage) error) (_ *Storage, err error) {
	if size <= 0 {
		return nil, fmt.Errorf("kekbit: mmap: creating %s: size %d: %w", name, size, ports.ErrOutOfRange)
	}
	// A channel that exists is refused before the lock file is touched:
	// a lock file, even for a moment, would lock its readers out.
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("%w: %s", ports.ErrChannelExists, name)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("kekbit: mmap: creating %s: %w", name, err)
	}
	lock := LockPath(path)
	lf, err := os.OpenFile(lock, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%w: %s is being created (lock file %s exists)", ports.ErrChannelExists, name, lock)
	}
	if err != nil {
		return nil, fmt.Errorf("kekbit: mmap: creating the lock file of %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			err = multierr.Append(err, layout.RemoveIfExists(osFS{}, lock))
		}
	}()
	if err := lf.Close(); err != nil {
		return nil, fmt.Errorf("kekbit: mmap: creating the lock file of %s: %w", name, err)
	}

	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, fileMode)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%w: %s", ports.ErrChannelExists, name)
	}
	if err != nil {
		return nil, fmt.Errorf("kekbit: mmap: creating %s: %w", name, err)
	}
	st, err := reserveAndMap(name, path, f, size)
	if err != nil {
		return nil, multierr.Combine(err, f.Close(), layout.RemoveIfExists(osFS{}, path))
	}
	if err := init(st); err != nil {
		return nil, multierr.Combine(err, st.Close(), layout.RemoveIfExists(osFS{}, path))
	}
	// The lock file may be gone already if someone removed the channel
	// meanwhile; the writer then holds an unlinked file, as after Remove.
	if err := layout.RemoveIfExists(osFS{}, lock); err != nil {
		return nil, multierr.Combine(fmt.Errorf("kekbit: mmap: making %s ready: %w", name, err), st.Close(), layout.RemoveIfExists(osFS{}, path))
	}
	return st, nil
}

// reserveAndMap locks the new file f, gives it its size and maps it.
func reserveAndMap(name, path string, f *os.File, size int64) (*Storage, error) {
	// The file is new and ours alone, so the only other holder of a lock on
	// it can be a reader probing WriterAlive through OpenFile: wait it out.
	err := lockExclusive(f)
	for try := 0; errors.Is(err, syscall.EWOULDBLOCK) && try < 100; try++ {
		time.Sleep(100 * time.Microsecond)
		err = lockExclusive(f)
	}
	if err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is locked by another writer: %w", ports.ErrChannelExists, name, err)
		}
		return nil, fmt.Errorf("kekbit: mmap: locking %s: %w", name, err)
	}
	if err := reserve(f, size); err != nil {
		return nil, fmt.Errorf("kekbit: mmap: reserving %d bytes for %s: %w", size, name, err)
	}
	return newStorage(path, f, size, true)
}

// Open maps channel id's file read-only. It returns
// ports.ErrChannelNotReady while the channel's lock file exists and
// ports.ErrChannelNotFound if there is no channel file. The file needs no
// write permission. The Storage is a *Storage: assert it to ask
// WriterAlive.
func (v *Volume) Open(id uint64) (ports.Storage, error) {
	path := v.Path(id)
	st, err := open(fmt.Sprintf("channel %#x (%s)", id, path), path, true)
	if err != nil {
		return nil, err
	}
	if v.pretouch {
		if err := st.Pretouch(); err != nil {
			return nil, multierr.Append(err, st.Close())
		}
	}
	return st, nil
}

// OpenFile maps the channel file at path read-only, whatever its name and
// folder, ignoring lock files: for copies, journals and test vectors. A
// missing file gives ports.ErrChannelNotFound.
func OpenFile(path string) (*Storage, error) { return open(path, path, false) }

// open opens and maps a channel file read-only. With checkLock it refuses
// a channel whose lock file exists, before and after opening the file: the
// lock file is made before the channel file and removed after it is ready,
// so a file found while no lock file exists afterwards is ready.
func open(name, path string, checkLock bool) (*Storage, error) {
	if checkLock {
		if err := layout.NotReady(osFS{}, "mmap", name, path); err != nil {
			return nil, err
		}
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s: %w", ports.ErrChannelNotFound, name, err)
	}
	if err != nil {
		return nil, fmt.Errorf("kekbit: mmap: opening %s: %w", name, err)
	}
	st, err := mapOpened(name, path, f, checkLock)
	if err != nil {
		return nil, multierr.Append(err, f.Close())
	}
	return st, nil
}

func mapOpened(name, path string, f *os.File, checkLock bool) (*Storage, error) {
	if checkLock {
		if err := layout.NotReady(osFS{}, "mmap", name, path); err != nil {
			return nil, err
		}
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("kekbit: mmap: opening %s: %w", name, err)
	}
	if checkLock && unlinked(fi) {
		return nil, fmt.Errorf("%w: %s was removed while being opened", ports.ErrChannelNotFound, name)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("kekbit: mmap: opening %s: not a regular file (%v)", name, fi.Mode())
	}
	return newStorage(path, f, fi.Size(), false)
}

// Remove deletes channel id's file and its lock file, if any. Storages
// already open keep working on the unlinked file. It returns
// ports.ErrChannelNotFound if neither file exists.
func (v *Volume) Remove(id uint64) error { return layout.Remove(osFS{}, "mmap", v.root, id) }

// List returns the ids of the ready channels under the root (channel files
// with no lock file), in increasing order. A root that does not exist
// holds no channels.
func (v *Volume) List() ([]uint64, error) { return layout.List(osFS{}, "mmap", v.root) }
