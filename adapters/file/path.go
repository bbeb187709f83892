package file

import "github.com/kekbit-go/kekbit/internal/layout"

// ChannelPath returns the path of channel id's file under root, as the Rust
// crate and the mmap backend lay it out: root/HHHH_HHHH/LLLL_LLLL.kekbit,
// the high 32 bits of the id naming the folder and the low 32 bits the
// file.
func ChannelPath(root string, id uint64) string { return layout.ChannelPath(root, id) }

// LockPath returns the path of the lock file of the channel file at
// channelPath: the same path with .lock in place of .kekbit.
func LockPath(channelPath string) string { return layout.LockPath(channelPath) }
