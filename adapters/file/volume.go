package file

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"

	"github.com/spf13/afero"
	"go.uber.org/multierr"

	"github.com/kekbit-go/kekbit/internal/layout"
	"github.com/kekbit-go/kekbit/ports"
)

// fileMode is the permission of the files Create makes: anyone may read a
// channel, only its writer's user may write it (folders: layout.DirMode).
const fileMode = 0o644

// Volume is a folder of channel files in an afero.Fs, laid out as the mmap
// backend and the Rust crate lay them out (see mmap.ChannelPath). It
// implements ports.Volume; the Storages it returns are *Storage. A Volume
// holds only its file system and root and is safe for concurrent use.
type Volume struct {
	fs   afero.Fs
	root string
}

// NewVolume returns the volume rooted at root in fsys. The folder is made
// when the first channel is created.
func NewVolume(fsys afero.Fs, root string) *Volume { return &Volume{fs: fsys, root: root} }

// Fs returns the volume's file system.
func (v *Volume) Fs() afero.Fs { return v.fs }

// Root returns the volume's folder.
func (v *Volume) Root() string { return v.root }

// Path returns the path of channel id's file.
func (v *Volume) Path(id uint64) string { return layout.ChannelPath(v.root, id) }

// Create makes channel id's file of size bytes, zero-filled, runs init on it
// while the lock file keeps readers out, syncs it, and returns it open
// read-write. It returns ports.ErrChannelExists if the channel exists or is
// being created, and an error wrapping the file system's if the file cannot
// be made; on any error, init's included, no file is left behind, nor the
// channel's folder if Create made it and it is still empty.
func (v *Volume) Create(id uint64, size int64, init func(ports.Storage) error) (ports.Storage, error) {
	path := v.Path(id)
	name := fmt.Sprintf("channel %#x (%s)", id, path)
	var st *Storage
	_, err := layout.Create(aferoFS{v.fs}, "file", name, path, func() (ports.Storage, error) {
		var err error
		st, err = create(v.fs, name, path, size, init)
		return st, err
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// removeEmptyDir removes the folder dir if it is empty. It holds exclusive
// so that no channel of this package is created in dir meanwhile: afero's
// MemMapFs removes a folder with whatever is in it.
func removeEmptyDir(fsys afero.Fs, dir string) {
	exclusive.Lock()
	defer exclusive.Unlock()
	if empty, err := afero.IsEmpty(fsys, dir); err == nil && empty {
		fsys.Remove(dir)
	}
}

// CreateFile makes a channel file at path in fsys exactly as Volume.Create
// does, lock file (path with .lock for .kekbit) included, for a channel kept
// outside a volume's layout. The folder must exist.
func CreateFile(fsys afero.Fs, path string, size int64, init func(ports.Storage) error) (*Storage, error) {
	return create(fsys, path, path, size, init)
}

// exclusive serializes the exclusive creations of this package. On OsFs
// O_EXCL is atomic by itself; afero's MemMapFs checks and then creates, so
// without it two goroutines creating the same channel could both succeed.
var exclusive sync.Mutex

// createExclusive creates path in fsys with O_EXCL, opened with flag.
func createExclusive(fsys afero.Fs, path string, flag int) (afero.File, error) {
	exclusive.Lock()
	defer exclusive.Unlock()
	return fsys.OpenFile(path, flag|os.O_CREATE|os.O_EXCL, fileMode)
}

// create is the creation protocol:
//  1. create the lock file exclusively: from now on readers get "not ready"
//     and other writers "exists";
//  2. create the channel file exclusively (O_EXCL);
//  3. give it its size by writing zeros (blocks allocated: ENOSPC here);
//  4. run init (header, first heartbeat);
//  5. sync the file (fsync on OsFs);
//  6. remove the lock file: the channel is ready.
//
// Any failure removes what was made, channel file first, lock file last.
func create(fsys afero.Fs, name, path string, size int64, init func(ports.Storage) error) (_ *Storage, err error) {
	if size < 0 {
		return nil, fmt.Errorf("kekbit: file: creating %s: size %d: %w", name, size, ports.ErrOutOfRange)
	}
	// A channel that exists is refused before the lock file is touched:
	// a lock file, even for a moment, would lock its readers out.
	if _, err := fsys.Stat(path); err == nil {
		return nil, fmt.Errorf("%w: %s", ports.ErrChannelExists, name)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("kekbit: file: creating %s: %w", name, err)
	}
	lock := layout.LockPath(path)
	lf, err := createExclusive(fsys, lock, os.O_WRONLY)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%w: %s is being created (lock file %s exists)", ports.ErrChannelExists, name, lock)
	}
	if err != nil {
		return nil, fmt.Errorf("kekbit: file: creating the lock file of %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			err = multierr.Append(err, layout.RemoveIfExists(aferoFS{fsys}, lock))
		}
	}()
	if err := lf.Close(); err != nil {
		return nil, fmt.Errorf("kekbit: file: creating the lock file of %s: %w", name, err)
	}

	f, err := createExclusive(fsys, path, os.O_RDWR)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%w: %s", ports.ErrChannelExists, name)
	}
	if err != nil {
		return nil, fmt.Errorf("kekbit: file: creating %s: %w", name, err)
	}
	lockWriter(f)
	st := &Storage{file: f, name: path, size: size, writable: true}
	fail := func(err error) (*Storage, error) {
		return nil, multierr.Combine(err, st.Close(), layout.RemoveIfExists(aferoFS{fsys}, path))
	}
	if err := reserve(f, size); err != nil {
		return fail(fmt.Errorf("kekbit: file: reserving %d bytes for %s: %w", size, name, err))
	}
	if err := init(st); err != nil {
		return fail(fmt.Errorf("kekbit: file: initializing %s: %w", name, err))
	}
	if err := f.Sync(); err != nil {
		return fail(fmt.Errorf("kekbit: file: syncing %s: %w", name, err))
	}
	// The lock file may be gone already if someone removed the channel
	// meanwhile; the writer then holds a removed file, as after Remove.
	if err := layout.RemoveIfExists(aferoFS{fsys}, lock); err != nil {
		return fail(fmt.Errorf("kekbit: file: making %s ready: %w", name, err))
	}
	return st, nil
}

// reserve gives the new file f its size by writing zeros, so that its
// blocks are allocated now: a full disk fails the create (ENOSPC) instead
// of a later Write.
func reserve(f afero.File, size int64) error {
	zeros := make([]byte, min(size, 1<<20))
	for off := int64(0); off < size; off += int64(len(zeros)) {
		if _, err := f.WriteAt(zeros[:min(int64(len(zeros)), size-off)], off); err != nil {
			return err
		}
	}
	return nil
}

// Open opens channel id's file read-only. It returns
// ports.ErrChannelNotReady while the channel's lock file exists and
// ports.ErrChannelNotFound if there is no channel file. The file needs no
// write permission.
func (v *Volume) Open(id uint64) (ports.Storage, error) {
	path := v.Path(id)
	st, err := open(v.fs, fmt.Sprintf("channel %#x (%s)", id, path), path, true)
	if err != nil {
		return nil, err
	}
	return st, nil
}

// OpenFile opens the channel file at path in fsys read-only, whatever its
// name and folder, ignoring lock files: for copies, journals and test
// vectors. A missing file gives ports.ErrChannelNotFound.
func OpenFile(fsys afero.Fs, path string) (*Storage, error) { return open(fsys, path, path, false) }

// open opens a channel file read-only. With checkLock it refuses a channel
// whose lock file exists, before and after opening the file: the lock file
// is made before the channel file and removed after it is ready, so a file
// found while no lock file exists afterwards is ready.
func open(fsys afero.Fs, name, path string, checkLock bool) (*Storage, error) {
	if checkLock {
		if err := layout.NotReady(aferoFS{fsys}, "file", name, path); err != nil {
			return nil, err
		}
	}
	f, err := fsys.OpenFile(path, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s: %w", ports.ErrChannelNotFound, name, err)
	}
	if err != nil {
		return nil, fmt.Errorf("kekbit: file: opening %s: %w", name, err)
	}
	st, err := opened(fsys, name, path, f, checkLock)
	if err != nil {
		return nil, multierr.Append(err, f.Close())
	}
	return st, nil
}

func opened(fsys afero.Fs, name, path string, f afero.File, checkLock bool) (*Storage, error) {
	if checkLock {
		if err := layout.NotReady(aferoFS{fsys}, "file", name, path); err != nil {
			return nil, err
		}
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("kekbit: file: opening %s: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("kekbit: file: opening %s: not a regular file (%v)", name, fi.Mode())
	}
	return &Storage{file: f, name: path, size: fi.Size()}, nil
}

// Remove deletes channel id's file and its lock file, if any. Storages
// already open keep working where the file system allows it (MemMapFs, and
// OsFs on Unix). It returns ports.ErrChannelNotFound if neither file
// exists.
func (v *Volume) Remove(id uint64) error { return layout.Remove(aferoFS{v.fs}, "file", v.root, id) }

// List returns the ids of the ready channels under the root (channel files
// with no lock file), in increasing order. A root that does not exist
// holds no channels.
func (v *Volume) List() ([]uint64, error) { return layout.List(aferoFS{v.fs}, "file", v.root) }

// aferoFS adapts an afero.Fs to layout.FS.
type aferoFS struct{ afero.Fs }

func (a aferoFS) RemoveEmptyDir(dir string) { removeEmptyDir(a.Fs, dir) }

func (a aferoFS) ReadDir(dir string) ([]fs.DirEntry, error) {
	infos, err := afero.ReadDir(a.Fs, dir)
	entries := make([]fs.DirEntry, len(infos))
	for i, fi := range infos {
		entries[i] = fs.FileInfoToDirEntry(fi)
	}
	return entries, err
}
