package layout

import (
	"errors"
	"io/fs"
	"os"
)

// OSFile is an operating-system file as the protocol uses it: a Locker
// through flock(2) where the system has it (Flock), and Linked. Both file
// backends use it for their operating-system files, so that they take the
// same locks and see each other's.
type OSFile struct{ *os.File }

var (
	_ Locker = OSFile{}
	_ Linked = OSFile{}
)

// LinkedAt reports whether path names the open file: false if the file
// was removed, or removed and replaced, since it was opened.
func (f OSFile) LinkedAt(path string) (bool, error) {
	if linkedByHandle != nil {
		return linkedByHandle(f.File, path)
	}
	opened, err := f.Stat()
	if err != nil {
		return false, err
	}
	now, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return os.SameFile(opened, now), nil
}

// linkedByHandle is LinkedAt where the system's own (linked_windows.go)
// must replace os.SameFile; nil elsewhere.
var linkedByHandle func(f *os.File, path string) (bool, error)
