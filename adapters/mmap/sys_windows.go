//go:build windows

package mmap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/windows"

	"github.com/kekbit-go/kekbit/internal/layout"
)

// This file is sys_unix.go's Windows twin, through golang.org/x/sys/windows:
// CreateFileMapping and MapViewOfFile for mmap, UnmapViewOfFile,
// FlushViewOfFile and FlushFileBuffers for msync, SetFileInformationByHandle
// (FileAllocationInfo) and SetEndOfFile for fallocate. The locks are
// layout.OSFile's (LockFileEx). The conversions between a view's address and
// its bytes are in unsafe_windows.go.

// fallocate reserves the blocks of the first size bytes of the new, empty
// file h (FileAllocationInfo); it does not set the length. It is a
// variable so that tests can make it fail (ERROR_DISK_FULL).
var fallocate = func(h windows.Handle, size int64) error {
	var info [8]byte // FILE_ALLOCATION_INFO: the allocation size, LARGE_INTEGER
	binary.LittleEndian.PutUint64(info[:], uint64(size))
	return windows.SetFileInformationByHandle(h, windows.FileAllocationInfo, &info[0], uint32(len(info)))
}

// reserve gives the new, empty file f a length of size bytes with every
// block allocated, so that a full disk fails here and not later as a fault
// on a store into the mapping: FileAllocationInfo, then the length
// (SetEndOfFile: the system zero-fills). Where the file system cannot
// set the allocation (ERROR_INVALID_PARAMETER, ERROR_NOT_SUPPORTED,
// ERROR_INVALID_FUNCTION, or ERROR_CALL_NOT_IMPLEMENTED as Wine answers) it
// writes zeros, which allocates the blocks too.
// A full disk's error wraps syscall.ENOSPC as well as the system's.
func reserve(f *os.File, size int64) error {
	err := fallocate(windows.Handle(f.Fd()), size)
	switch {
	case err == nil:
		if err := f.Truncate(size); err != nil {
			return diskFull(layout.StripPath(err))
		}
		return nil
	case errors.Is(err, windows.ERROR_INVALID_PARAMETER), errors.Is(err, windows.ERROR_NOT_SUPPORTED),
		errors.Is(err, windows.ERROR_INVALID_FUNCTION), errors.Is(err, windows.ERROR_CALL_NOT_IMPLEMENTED):
		return diskFull(layout.WriteZeros(f, size))
	}
	return diskFull(os.NewSyscallError("SetFileInformationByHandle", err))
}

// diskFull makes err, if it says the disk is full in Windows' words, match
// syscall.ENOSPC too, as a full disk's error does on Unix.
func diskFull(err error) error {
	if errors.Is(err, windows.ERROR_DISK_FULL) || errors.Is(err, windows.ERROR_HANDLE_DISK_FULL) {
		return fmt.Errorf("%w (%w)", err, syscall.ENOSPC)
	}
	return err
}

// mapFile maps the first size bytes of f, shared, read-write or read-only.
// A size of 0 maps nothing and returns an empty slice (Windows cannot map
// an empty file). The file must be at least size bytes long.
func mapFile(f *os.File, size int64, writable bool) ([]byte, error) {
	if size == 0 {
		return nil, nil
	}
	if int64(int(size)) != size {
		return nil, os.NewSyscallError("MapViewOfFile", syscall.EFBIG)
	}
	prot, access := uint32(windows.PAGE_READONLY), uint32(windows.FILE_MAP_READ)
	if writable {
		prot, access = windows.PAGE_READWRITE, windows.FILE_MAP_WRITE
	}
	section, err := windows.CreateFileMapping(windows.Handle(f.Fd()), nil, prot, uint32(uint64(size)>>32), uint32(size), nil)
	if err != nil {
		return nil, os.NewSyscallError("CreateFileMapping", err)
	}
	// The view keeps the section: its handle is not needed past MapViewOfFile.
	defer windows.CloseHandle(section)
	addr, err := windows.MapViewOfFile(section, access, 0, 0, uintptr(size))
	if err != nil {
		return nil, os.NewSyscallError("MapViewOfFile", err)
	}
	return viewBytes(addr, int(size)), nil
}

// unmap releases a mapping made by mapFile.
func unmap(b []byte) error {
	if b == nil {
		return nil
	}
	return os.NewSyscallError("UnmapViewOfFile", windows.UnmapViewOfFile(viewAddr(b)))
}

// syncMapping starts writing the dirty pages of a mapping to its file
// (FlushViewOfFile); syncFile waits for them.
func syncMapping(b []byte) error {
	if b == nil {
		return nil
	}
	return os.NewSyscallError("FlushViewOfFile", windows.FlushViewOfFile(viewAddr(b), uintptr(len(b))))
}

// syncFile waits until the file's written data, a mapping's flushed pages
// included, are on the disk (FlushFileBuffers): FlushViewOfFile alone only
// starts the writes.
func syncFile(f *os.File) error {
	return os.NewSyscallError("FlushFileBuffers", windows.FlushFileBuffers(windows.Handle(f.Fd())))
}

// removeWait is how long removeFile tries again while another handle holds
// the file: as long as the protocol waits out a reader's probe of a lock.
const removeWait = 10 * time.Millisecond

// removeFile is os.Remove, tried again for removeWait while the file is
// open elsewhere (a sharing violation): Windows removes no open file, and
// the protocol's own brief opens (RemoveAbandoned looking at a lock file, a
// reader's open that finds the channel not ready) would otherwise make a
// Create fail at its very end. A file still open after that (a reader's
// Storage) is refused, with the sharing violation.
func removeFile(name string) error {
	err := os.Remove(name)
	for deadline := time.Now().Add(removeWait); errors.Is(err, windows.ERROR_SHARING_VIOLATION) && time.Now().Before(deadline); {
		time.Sleep(100 * time.Microsecond)
		err = os.Remove(name)
	}
	return err
}
