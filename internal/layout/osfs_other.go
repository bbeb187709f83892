//go:build !unix

package layout

import (
	"io/fs"
	"os"
)

// openDir opens the folder dir.
func (OSFS) openDir(dir string, _ []string) (*os.File, error) { return os.Open(dir) }

// Stat describes name without following a symbolic link.
func (OSFS) Stat(name string) (fs.FileInfo, error) { return os.Lstat(name) }

// Remove removes the file name.
func (OSFS) Remove(name string) error { return os.Remove(name) }

// Mkdir makes the folder dir.
func (OSFS) Mkdir(dir string, perm fs.FileMode) error { return os.Mkdir(dir, perm) }

// RemoveEmptyDir removes dir if it is empty.
func (OSFS) RemoveEmptyDir(dir string) { os.Remove(dir) }

// CreateExclusive creates the file name, which must not exist, with
// FileMode, and opens it read-write.
func (OSFS) CreateExclusive(name string) (OSFile, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, FileMode)
	return OSFile{File: f}, err
}

// OpenFile opens the existing file name as OpenOSFile does.
func (OSFS) OpenFile(name string, write bool) (OSFile, error) { return OpenOSFile(name, write) }

// checkRoot checks nothing: this system's folders have no Unix owner and
// mode.
func (OSFS) checkRoot() error { return nil }

// Rename renames the file from to to (no channel is recycled where there
// are no file leases; see OSFile.TrySole).
func (OSFS) Rename(from, to string) error { return os.Rename(from, to) }

// CreateLocked is ErrNotBornLocked: this system's lock files are made by
// CreateExclusive, then locked.
func (OSFS) CreateLocked(string, []byte) (OSFile, error) { return OSFile{}, ErrNotBornLocked }
