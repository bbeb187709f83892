//go:build !unix

package layout

import (
	"fmt"
	"os"
)

// OpenOSFile opens the existing file name, read-write if write, else
// read-only, and refuses anything but a regular file (ErrNotRegular).
func OpenOSFile(name string, write bool) (OSFile, error) {
	flag := os.O_RDONLY
	if write {
		flag = os.O_RDWR
	}
	f, err := os.OpenFile(name, flag, 0)
	if err != nil {
		return OSFile{}, err
	}
	if err := regular(f); err != nil {
		f.Close()
		return OSFile{}, err
	}
	return OSFile{File: f}, nil
}

// regular returns an error wrapping ErrNotRegular if f is not a regular
// file, naming what it is.
func regular(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w (%v)", ErrNotRegular, fi.Mode().Type())
	}
	return nil
}
