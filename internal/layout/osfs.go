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
//
// On Unix the root and every folder below it are also checked as they are
// opened (fstat of the open folder, so that a folder swapped after the
// check is not the one used): a folder owned by another user than this
// process's effective one or the superuser, or writable by its group, is
// refused with ErrUntrusted unless Shared, and one writable by others
// without the sticky bit always is. The root is made 0700 if missing,
// 0775 if Shared (group-shared: its channel folders are made 0775 too).
type OSFS struct {
	Root   string
	Shared bool // trust folders of other users and writable by their group: a group-shared root
}

var _ BornLocked[OSFile] = OSFS{}

// ErrUntrusted says that a volume's root or channel folder could be
// subverted by another user: it is owned by another user, or writable by
// others (its group, or anyone without the sticky bit). Its error names
// the folder, its owner and its mode.
var ErrUntrusted = errors.New("kekbit: the folder is not safe from other users")

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
// The root is made with RootMode, whatever perm and the umask.
func (o OSFS) MkdirAll(dir string, perm fs.FileMode) error {
	if o.Root == "" || filepath.Clean(dir) != filepath.Clean(o.Root) {
		return os.MkdirAll(dir, perm)
	}
	_, err := os.Lstat(dir)
	missing := errors.Is(err, fs.ErrNotExist)
	if err := os.MkdirAll(dir, o.RootMode()); err != nil {
		return err
	}
	if missing && o.Shared {
		return os.Chmod(dir, o.RootMode()) // the umask may have taken the group's write away
	}
	return nil
}

// RootMode is the permission the root is made with: 0700, only its user
// reaches the channels; 0775 if Shared.
func (o OSFS) RootMode() fs.FileMode {
	if o.Shared {
		return 0o775
	}
	return 0o700
}

// ReadDir lists dir; a folder below the root is opened without following
// a symbolic link.
func (o OSFS) ReadDir(dir string) ([]fs.DirEntry, error) {
	rel := o.below(dir)
	if rel == nil {
		if o.Root != "" && filepath.Clean(dir) == filepath.Clean(o.Root) {
			if err := o.checkRoot(); err != nil {
				return nil, err
			}
		}
		return os.ReadDir(dir)
	}
	f, err := o.openDir(dir, rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.ReadDir(-1)
}
