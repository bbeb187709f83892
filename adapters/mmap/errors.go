package mmap

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/kekbit-go/kekbit/internal/layout"
	"github.com/kekbit-go/kekbit/ports"
)

// Errors of the mmap backend. A Volume's errors are *ports.ChannelError,
// which wrap the errors of ports (ErrChannelExists, ErrChannelNotFound, ...)
// and of the operating system, so callers test every error with errors.Is.
var (
	// ErrReadOnly is returned by WriteAt and StoreUint64 on a storage opened
	// for reading: its mapping is read-only. It matches fs.ErrPermission.
	ErrReadOnly = fmt.Errorf("kekbit: mmap: storage is mapped read-only: %w", fs.ErrPermission)
	// ErrNotChannelPath is returned by ParseChannelPath for a path that is
	// not root/HHHH_HHHH/LLLL_LLLL.kekbit.
	ErrNotChannelPath = layout.ErrNotChannelPath
	// ErrFault is returned (with ports.ErrOutOfRange) by the Storage methods
	// when the mapped memory cannot be accessed any more, typically because
	// someone cut the file short under the mapping.
	ErrFault = errors.New("kekbit: mmap: memory fault in the mapping (file cut short?)")
	// ErrWriterAlive is ports.ErrWriterAlive, under the name it had here
	// before ports had it: test for that one.
	ErrWriterAlive = ports.ErrWriterAlive
)

// Errors of what is found at a channel's path and is not a channel; see
// the package documentation.
var (
	// ErrNotRegular: the path names a FIFO, a folder, a device or a socket,
	// not a regular file. It is found without blocking.
	ErrNotRegular = layout.ErrNotRegular
	// ErrHole: the file's records run into a hole of the file before an
	// end mark (a planted sparse file).
	ErrHole = layout.ErrHole
	// ErrSymlink: a channel folder, channel file or lock file below the
	// volume's root is a symbolic link, which the volume does not follow;
	// the error names the link.
	ErrSymlink = layout.ErrSymlink
	// ErrUntrusted: the volume's root or a channel folder is owned by
	// another user or writable by others, and could be subverted by them
	// (see WithSharedRoot); the error names the folder, its owner and mode.
	ErrUntrusted = layout.ErrUntrusted
	// ErrCreatorGone: the channel's creator died before it was ready (its
	// lock file is there, its lock free); Open returns it with
	// ports.ErrChannelNotReady. RemoveAbandoned removes what it left, and
	// Create takes the id over.
	ErrCreatorGone = layout.ErrCreatorGone
)
