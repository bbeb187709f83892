package file

import (
	"errors"
	"io/fs"
	"os"
	"sync"

	"github.com/spf13/afero"
	"github.com/spf13/afero/mem"

	"github.com/kekbit-go/kekbit/internal/layout"
)

// aferoFS is an afero.Fs as this backend's half of the channel-file
// protocol (layout.Backend): afero calls, and files with the locks of
// their kind (see channelFile). On afero.OsFs the files are the operating
// system's, opened as the mmap backend opens them (layout.OSFS): no
// symbolic link followed below the root, no folder another user could
// subvert.
type aferoFS struct {
	afero.Fs
	osFS *layout.OSFS // on afero.OsFs: the volume's files, its root (if any) and trust
}

// filesOf returns the backend of fsys for a volume rooted at root ("" for
// a channel file named by its path), group-shared if shared (see
// WithSharedRoot).
func filesOf(fsys afero.Fs, root string, shared bool) aferoFS {
	if _, isOS := fsys.(*afero.OsFs); isOS {
		return aferoFS{Fs: fsys, osFS: &layout.OSFS{Root: root, Shared: shared}}
	}
	return aferoFS{Fs: fsys}
}

// Remove removes the file name.
func (a aferoFS) Remove(name string) error {
	if a.osFS != nil {
		return a.osFS.Remove(name)
	}
	return a.Fs.Remove(name)
}

// Stat describes the file name (on OsFs without following a symbolic
// link).
func (a aferoFS) Stat(name string) (fs.FileInfo, error) {
	if a.osFS != nil {
		return a.osFS.Stat(name)
	}
	return a.Fs.Stat(name)
}

// MkdirAll makes dir and its parents.
func (a aferoFS) MkdirAll(dir string, perm fs.FileMode) error {
	if a.osFS != nil {
		return a.osFS.MkdirAll(dir, perm)
	}
	return a.Fs.MkdirAll(dir, perm)
}

// Mkdir makes the folder dir.
func (a aferoFS) Mkdir(dir string, perm fs.FileMode) error {
	if a.osFS != nil {
		return a.osFS.Mkdir(dir, perm)
	}
	return a.Fs.Mkdir(dir, perm)
}

var _ layout.Backend[*channelFile, *Storage] = aferoFS{}

// exclusive serializes the exclusive creations of this package, and its
// removals of empty folders. On OsFs O_EXCL is atomic by itself; afero's
// MemMapFs checks and then creates, so without it two goroutines creating
// the same channel could both succeed, and it removes a folder with
// whatever is in it.
var exclusive sync.Mutex

// CreateExclusive creates name with O_EXCL, opened read-write.
func (a aferoFS) CreateExclusive(name string) (*channelFile, error) {
	if a.osFS != nil {
		f, err := a.osFS.CreateExclusive(name)
		if err != nil {
			return nil, err
		}
		return newChannelFile(a.Fs, name, f.File), nil
	}
	exclusive.Lock()
	defer exclusive.Unlock()
	f, err := a.Fs.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, layout.FileMode)
	if err != nil {
		return nil, err
	}
	return newChannelFile(a.Fs, name, f), nil
}

// CreateLocked creates the lock file name born locked, holding mark
// (layout.BornLocked), on afero.OsFs where the system can; elsewhere
// layout.ErrNotBornLocked, and the protocol uses CreateExclusive.
func (a aferoFS) CreateLocked(name string, mark []byte) (*channelFile, error) {
	if a.osFS == nil || !layout.Flock {
		return nil, layout.ErrNotBornLocked
	}
	f, err := a.osFS.CreateLocked(name, mark)
	if err != nil {
		return nil, err
	}
	return newChannelFile(a.Fs, name, f.File), nil
}

// OpenFile opens name read-write if write, else read-only. On the
// operating system's file system (afero.OsFs) it opens it as the mmap
// backend does (layout.OSFS): without blocking on a FIFO, refusing
// anything but a regular file, and below the root no symbolic link.
func (a aferoFS) OpenFile(name string, write bool) (*channelFile, error) {
	if a.osFS != nil {
		f, err := a.osFS.OpenFile(name, write)
		if err != nil {
			return nil, err
		}
		return newChannelFile(a.Fs, name, f.File), nil
	}
	flag := os.O_RDONLY
	if write {
		flag = os.O_RDWR
	}
	f, err := a.Fs.OpenFile(name, flag, 0)
	if err != nil {
		return nil, err
	}
	return newChannelFile(a.Fs, name, f), nil
}

// Reserve gives the new file its size by writing zeros, so that its
// blocks are allocated now: a full disk fails the Create (ENOSPC) instead
// of a later Write.
func (aferoFS) Reserve(f *channelFile, size int64) error { return layout.WriteZeros(f, size) }

// NewStorage returns the Storage of the file: nothing to do but remember it.
func (aferoFS) NewStorage(f *channelFile, path string, size int64, writable bool) (*Storage, error) {
	return &Storage{file: f, name: path, size: size, writable: writable}, nil
}

// RemoveEmptyDir removes dir if it is empty. It holds exclusive so that no
// channel of this package is created in dir meanwhile.
func (a aferoFS) RemoveEmptyDir(dir string) {
	if a.osFS != nil {
		a.osFS.RemoveEmptyDir(dir)
		return
	}
	exclusive.Lock()
	defer exclusive.Unlock()
	if empty, err := afero.IsEmpty(a.Fs, dir); err == nil && empty {
		a.Fs.Remove(dir)
	}
}

// ReadDir lists dir.
func (a aferoFS) ReadDir(dir string) ([]fs.DirEntry, error) {
	if a.osFS != nil {
		return a.osFS.ReadDir(dir)
	}
	infos, err := afero.ReadDir(a.Fs, dir)
	entries := make([]fs.DirEntry, len(infos))
	for i, fi := range infos {
		entries[i] = fs.FileInfoToDirEntry(fi)
	}
	return entries, err
}

// channelFile is a file of the channel-file protocol: an afero.File with
// the locks of its kind, and the check that it is still at its path.
//
//   - An operating-system file (afero.OsFs's *os.File) takes flock locks,
//     through layout.OSFile, exactly as the mmap backend's files do: the
//     two backends, and processes, see each other's locks.
//   - Any other file (MemMapFs's, or one a wrapping afero.Fs hands out)
//     takes its locks in a table of this process (see lockTable): they
//     work between the goroutines of this process only.
type channelFile struct {
	afero.File
	fsys  afero.Fs
	locks layout.Locker
}

var (
	_ layout.Locker = (*channelFile)(nil)
	_ layout.Linked = (*channelFile)(nil)
)

// newChannelFile wraps f, opened at name in fsys.
func newChannelFile(fsys afero.Fs, name string, f afero.File) *channelFile {
	if osf, ok := f.(*os.File); ok && layout.Flock {
		return &channelFile{File: f, fsys: fsys, locks: layout.OSFile{File: osf}}
	}
	return &channelFile{File: f, fsys: fsys, locks: locks.holder(fsys, name, f)}
}

// TryLock takes the file's exclusive lock without waiting.
func (f *channelFile) TryLock() error { return f.locks.TryLock() }

// TryRLock takes the file's shared lock without waiting.
func (f *channelFile) TryRLock() error { return f.locks.TryRLock() }

// Unlock releases the file's lock.
func (f *channelFile) Unlock() error { return f.locks.Unlock() }

// Close releases the file's lock and closes it.
func (f *channelFile) Close() error {
	if _, inTable := f.locks.(*tableLock); inTable {
		f.locks.Unlock()
	}
	return f.File.Close()
}

// LinkedAt reports whether path still names this file: false if the file
// was removed (or removed and replaced) since it was opened. On OsFs it
// compares device and inode, on MemMapFs the file's data; on a file system
// that cannot tell files apart it reports true.
func (f *channelFile) LinkedAt(path string) (bool, error) {
	opened, err := f.Stat()
	if err != nil {
		return false, err
	}
	now, err := f.fsys.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	a, okA := fileID(opened)
	b, okB := fileID(now)
	return !okA || !okB || a == b, nil
}

// fileID returns what tells the file fi describes from any other, if the
// file system says: MemMapFs's file data, the operating system's device
// and inode.
func fileID(fi fs.FileInfo) (any, bool) {
	if m, ok := fi.(*mem.FileInfo); ok {
		return m.FileData, true
	}
	return layout.OSFileID(fi)
}
