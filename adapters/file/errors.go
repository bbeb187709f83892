package file

import (
	"fmt"
	"io/fs"
)

// Errors of the file backend. The errors of ports (ErrChannelExists,
// ErrOutOfRange, ...) and those of the file system are wrapped with %w, so
// callers test every error with errors.Is.
var (
	// ErrReadOnly is returned by WriteAt and StoreUint64 on a storage opened
	// for reading: its file is open read-only. It matches fs.ErrPermission.
	ErrReadOnly = fmt.Errorf("kekbit: file: storage is opened read-only: %w", fs.ErrPermission)
)
