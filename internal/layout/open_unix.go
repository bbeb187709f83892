//go:build unix

package layout

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// OpenOSFile opens the existing file name, read-write if write, else
// read-only, without blocking: O_NONBLOCK, so that a FIFO at the path does
// not wait for a writer, then fstat, which refuses anything but a regular
// file (ErrNotRegular), then O_NONBLOCK is cleared again.
func OpenOSFile(name string, write bool) (OSFile, error) {
	flag := os.O_RDONLY
	if write {
		flag = os.O_RDWR
	}
	f, err := os.OpenFile(name, flag|unix.O_NONBLOCK, 0)
	if errors.Is(err, unix.EISDIR) { // a folder, opened for writing
		return OSFile{}, fmt.Errorf("%w (a folder): %w", ErrNotRegular, StripPath(err))
	}
	if err != nil {
		return OSFile{}, err
	}
	if err := regular(f); err != nil {
		f.Close()
		return OSFile{}, err
	}
	if err := unix.SetNonblock(int(f.Fd()), false); err != nil {
		f.Close()
		return OSFile{}, os.NewSyscallError("fcntl", err)
	}
	return OSFile{File: f}, nil
}
