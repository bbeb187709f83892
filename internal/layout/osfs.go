package layout

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrSymlink says that a path below a volume's root (a channel folder, a
// channel file or its lock file) is a symbolic link: the protocol follows
// none there, so that a link planted in a shared root cannot make a writer
// create a file, or a reader open one, somewhere else. Its error names the
// link.
var ErrSymlink = errors.New("kekbit: a path below the root is a symbolic link")

// OSFS is the operating system's file system as the protocol uses it
// (Files[OSFile]), for the volume rooted at Root. On Unix, paths below
// Root are opened one component at a time (openat) without following a
// symbolic link (O_NOFOLLOW, ErrSymlink), files without blocking and
// regular ones only (see OpenOSFile); Root itself, and paths outside it
// (a channel file opened by its path; Root ""), are the caller's and are
// opened as named. Elsewhere every path is opened as named.
type OSFS struct{ Root string }

var _ Files[OSFile] = OSFS{}

// below returns the components of name below Root, or nil if name is Root
// itself or not below it.
func (o OSFS) below(name string) []string {
	if o.Root == "" {
		return nil
	}
	rel, err := filepath.Rel(o.Root, name)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return nil
	}
	return strings.Split(rel, string(filepath.Separator))
}

// MkdirAll makes dir and its parents (the root and above: the caller's).
func (OSFS) MkdirAll(dir string, perm fs.FileMode) error { return os.MkdirAll(dir, perm) }

// ReadDir lists dir; a folder below the root is opened without following
// a symbolic link.
func (o OSFS) ReadDir(dir string) ([]fs.DirEntry, error) {
	rel := o.below(dir)
	if rel == nil {
		return os.ReadDir(dir)
	}
	f, err := o.openDir(dir, rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.ReadDir(-1)
}
