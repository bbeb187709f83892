package mmap

import (
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
// channel-file protocol (layout.Backend): layout.OSFS for the files of the
// volume rooted at its Root (symbolic links below it refused; Root "" for
// a channel file named by its path), fallocate and mmap.
type osFS struct{ layout.OSFS }

var _ layout.Backend[layout.OSFile, *Storage] = osFS{}

// Reserve allocates the new file's blocks with fallocate.
func (osFS) Reserve(f layout.OSFile, size int64) error { return reserve(f.File, size) }

// NewStorage maps the file.
func (osFS) NewStorage(f layout.OSFile, path string, size int64, writable bool) (*Storage, error) {
	return newStorage(path, f, size, writable)
}
