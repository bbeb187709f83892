package file

import (
	"path/filepath"
	"sync"

	"github.com/spf13/afero"

	"github.com/kekbit-go/kekbit/internal/layout"
)

// lockTable holds the locks of the files that have no flock (MemMapFs's):
// flock's semantics, kept in this process. A lock belongs to one open
// file (a tableLock), on one file (a key: see lockKey); another open file
// of the same file conflicts with it, and Close releases it. Nothing
// outside this process sees these locks, and they cannot outlive it.
type lockTable struct {
	mu    sync.Mutex
	files map[any]*fileLocks
}

// fileLocks are the locks held on one file: one exclusive, or any number
// of shared ones.
type fileLocks struct {
	exclusive *tableLock
	shared    map[*tableLock]bool
}

// tableLock is one open file's hold in the table. It is a layout.Locker.
type tableLock struct {
	table *lockTable
	fsys  afero.Fs
	name  string
	file  afero.File
	key   any // the file's key, known at the first lock
}

var _ layout.Locker = (*tableLock)(nil)

// locks is this process's table.
var locks = &lockTable{files: make(map[any]*fileLocks)}

// holder returns the hold of file f, opened at name in fsys, holding no
// lock yet.
func (t *lockTable) holder(fsys afero.Fs, name string, f afero.File) *tableLock {
	return &tableLock{table: t, fsys: fsys, name: name, file: f}
}

// pathKey names a file by its file system's name and path, for a file
// system that cannot tell its files apart otherwise.
type pathKey struct{ fs, path string }

// lockKey returns the key of the hold's file: what tells the file from
// any other (MemMapFs's file data, so that a channel removed and made again
// is a new file with no lock, as with flock), or else its path. It asks the
// file the first time, and fails if the file cannot say.
func (l *tableLock) lockKey() (any, error) {
	if l.key == nil {
		fi, err := l.file.Stat()
		if err != nil {
			return nil, err
		}
		l.key = pathKey{l.fsys.Name(), filepath.Clean(l.name)}
		if id, ok := fileID(fi); ok {
			l.key = id
		}
	}
	return l.key, nil
}

// entry returns the locks of the file key, made if there are none. The
// caller holds t.mu.
func (t *lockTable) entry(key any) *fileLocks {
	fl := t.files[key]
	if fl == nil {
		fl = &fileLocks{shared: make(map[*tableLock]bool)}
		t.files[key] = fl
	}
	return fl
}

// TryLock takes the exclusive lock, or turns this hold's shared lock into
// it; layout.ErrLocked if another hold has a lock.
func (l *tableLock) TryLock() error { return l.try(true) }

// TryRLock takes a shared lock, or turns this hold's exclusive lock into
// one; layout.ErrLocked if another hold has the exclusive lock.
func (l *tableLock) TryRLock() error { return l.try(false) }

// try takes the exclusive lock or a shared one.
func (l *tableLock) try(exclusive bool) error {
	key, err := l.lockKey()
	if err != nil {
		return err
	}
	t := l.table
	t.mu.Lock()
	defer t.mu.Unlock()
	fl := t.entry(key)
	othersShare := len(fl.shared) > 1 || len(fl.shared) == 1 && !fl.shared[l]
	if fl.exclusive != nil && fl.exclusive != l || exclusive && othersShare {
		return layout.ErrLocked
	}
	if exclusive {
		delete(fl.shared, l)
		fl.exclusive = l
	} else {
		fl.exclusive = nil
		fl.shared[l] = true
	}
	return nil
}

// Unlock releases this hold's lock, if it has one.
func (l *tableLock) Unlock() error {
	if l.key == nil {
		return nil // it never locked
	}
	t := l.table
	t.mu.Lock()
	defer t.mu.Unlock()
	fl := t.files[l.key]
	if fl == nil {
		return nil
	}
	if fl.exclusive == l {
		fl.exclusive = nil
	}
	delete(fl.shared, l)
	if fl.exclusive == nil && len(fl.shared) == 0 {
		delete(t.files, l.key)
	}
	return nil
}
