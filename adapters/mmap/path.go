package mmap

import (
	"io/fs"
	"os"

	"github.com/kekbit-go/kekbit/internal/layout"
)

// Extensions of the files of a channel.
const (
	// ChannelExt ends the name of a channel file.
	ChannelExt = layout.ChannelExt
	// LockExt ends the name of the lock file that exists while a channel is
	// being created.
	LockExt = layout.LockExt
)

// ChannelPath returns the path of channel id's file under root, as the Rust
// crate lays it out: root/HHHH_HHHH/LLLL_LLLL.kekbit, the high 32 bits of
// the id naming the folder and the low 32 bits the file.
func ChannelPath(root string, id uint64) string { return layout.ChannelPath(root, id) }

// LockPath returns the path of the lock file of the channel file at
// channelPath: the same path with .lock in place of .kekbit.
func LockPath(channelPath string) string { return layout.LockPath(channelPath) }

// ParseChannelPath returns the channel id of the channel file at path under
// root, the reverse of ChannelPath. It returns an error wrapping
// ErrNotChannelPath for any other path.
func ParseChannelPath(root, path string) (uint64, error) {
	return layout.ParseChannelPath(root, path)
}

// osFS is the operating system's file system, this backend's half of the
// channel-file protocol (layout.Backend): os calls, flock through
// layout.OSFile, fallocate and mmap.
type osFS struct{}

var _ layout.Backend[layout.OSFile, *Storage] = osFS{}

func (osFS) Remove(name string) error                    { return removeFile(name) }
func (osFS) ReadDir(dir string) ([]fs.DirEntry, error)   { return os.ReadDir(dir) }
func (osFS) Stat(name string) (fs.FileInfo, error)       { return os.Lstat(name) }
func (osFS) MkdirAll(dir string, perm fs.FileMode) error { return os.MkdirAll(dir, perm) }
func (osFS) Mkdir(dir string, perm fs.FileMode) error    { return os.Mkdir(dir, perm) }
func (osFS) RemoveEmptyDir(dir string)                   { os.Remove(dir) } // rmdir refuses a folder that is not empty

func (osFS) CreateExclusive(name string) (layout.OSFile, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, layout.FileMode)
	return layout.OSFile{File: f}, err
}

func (osFS) OpenFile(name string, write bool) (layout.OSFile, error) {
	flag := os.O_RDONLY
	if write {
		flag = os.O_RDWR
	}
	f, err := os.OpenFile(name, flag, 0)
	return layout.OSFile{File: f}, err
}

// Reserve allocates the new file's blocks with fallocate.
func (osFS) Reserve(f layout.OSFile, size int64) error { return reserve(f.File, size) }

// NewStorage maps the file.
func (osFS) NewStorage(f layout.OSFile, path string, size int64, writable bool) (*Storage, error) {
	return newStorage(path, f, size, writable)
}
