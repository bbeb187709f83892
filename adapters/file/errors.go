package file

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/kekbit-go/kekbit/internal/layout"
)

// Errors of the file backend. The errors of ports (ErrChannelExists,
// ErrOutOfRange, ...) and those of the file system are wrapped with %w, so
// callers test every error with errors.Is.
var (
	// ErrReadOnly is returned by WriteAt and StoreUint64 on a storage opened
	// for reading: its file is open read-only. It matches fs.ErrPermission.
	ErrReadOnly = fmt.Errorf("kekbit: file: storage is opened read-only: %w", fs.ErrPermission)

	// ErrWordUnsteady is returned by LoadUint64 for a word that no two of
	// maxWordReads reads in a row agreed on: something other than a
	// channel's writer (which changes a word once or twice) keeps writing
	// it. The error names the offset.
	ErrWordUnsteady = errors.New("kekbit: file: a word of the channel file changes between every two reads")

	// On afero.OsFs, what the mmap backend refuses too (see its errors):

	// ErrNotRegular: a channel's path names a FIFO, a folder, a device or
	// a socket, found without blocking.
	ErrNotRegular = layout.ErrNotRegular
	// ErrSymlink: a channel folder, channel file or lock file below the
	// root is a symbolic link, which is not followed; the error names it.
	ErrSymlink = layout.ErrSymlink
	// ErrUntrusted: the root or a channel folder is owned by another user
	// or writable by others (see WithSharedRoot); the error names the
	// folder, its owner and mode.
	ErrUntrusted = layout.ErrUntrusted
)
