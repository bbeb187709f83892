//go:build !linux && !darwin && !freebsd && !windows

package mmap

import (
	"errors"
	"fmt"
	"os"
)

// This file stands in for sys_unix.go and sys_windows.go where this backend
// is not ported: creating and opening channels fail with an error matching
// errors.ErrUnsupported. Porting means mmap and a way to reserve a file's
// blocks; the flock is layout.OSFile's.

var errUnsupported = fmt.Errorf("kekbit: mmap: this backend runs on Linux, macOS, FreeBSD and Windows only: %w", errors.ErrUnsupported)

func reserve(*os.File, int64) error                 { return errUnsupported }
func mapFile(*os.File, int64, bool) ([]byte, error) { return nil, errUnsupported }
func unmap([]byte) error                            { return errUnsupported }
func syncMapping([]byte) error                      { return errUnsupported }
func populate([]byte, []uint64, bool) error         { return errUnsupported }
func syncFile(*os.File) error                       { return errUnsupported }
func removeFile(name string) error                  { return os.Remove(name) }
