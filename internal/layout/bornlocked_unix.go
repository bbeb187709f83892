//go:build unix

package layout

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// CreateLocked creates the lock file name, which must not exist (an error
// matching fs.ErrExist if it does), holding mark, and returns it open
// read-write with the creator's exclusive lock held on it since before it
// appeared at name: it is made and locked under no name (O_TMPFILE, on
// Linux) or a temporary one beside it, then linked into place, which
// fails if name exists. Below the root it follows no symbolic link, as
// CreateExclusive. A process killed before the link leaves nothing at
// name; with a temporary name (no O_TMPFILE), the temporary file may stay
// behind, ".NAME.XXXXXXXXXXXXXXXX.tmp", its lock free, for an operator to
// remove.
func (o OSFS) CreateLocked(name string, mark []byte) (OSFile, error) {
	var f OSFile
	op := func(dirfd int, last string) error {
		var err error
		f, err = bornLocked(dirfd, last, name, mark)
		return err
	}
	rel := o.below(name)
	if rel == nil {
		dir := filepath.Dir(name)
		dirfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return OSFile{}, &fs.PathError{Op: "open", Path: dir, Err: err}
		}
		defer unix.Close(dirfd)
		return f, op(dirfd, filepath.Base(name))
	}
	return f, o.at(name, rel, op)
}

// bornLocked is CreateLocked in the open folder dirfd, for its entry last
// (name is the whole path, for errors and the file's name).
func bornLocked(dirfd int, last, name string, mark []byte) (OSFile, error) {
	fd, err := openUnnamed(dirfd)
	tmp := ""
	if err != nil {
		// No O_TMPFILE here (the system or the file system): a temporary
		// name, which no one else creates (O_EXCL) or guesses.
		var b [8]byte
		rand.Read(b[:])
		tmp = "." + last + "." + hex.EncodeToString(b[:]) + ".tmp"
		fd, err = unix.Openat(dirfd, tmp, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, FileMode)
		if err != nil {
			return OSFile{}, nofollowError("openat", filepath.Join(filepath.Dir(name), tmp), err)
		}
	}
	f := OSFile{File: os.NewFile(uintptr(fd), name)}
	if err := linkLocked(f, dirfd, tmp, last, mark); err != nil {
		if tmp != "" {
			unix.Unlinkat(dirfd, tmp, 0)
		}
		f.Close()
		if errors.Is(err, unix.EEXIST) {
			return OSFile{}, &fs.PathError{Op: "link", Path: name, Err: err}
		}
		return OSFile{}, fmt.Errorf("%s: %w", name, err)
	}
	return f, nil
}

// linkLocked locks f, writes mark into it and links it into dirfd as last:
// from tmp in dirfd, or if tmp is "" from the unnamed file's /proc entry.
// It then removes tmp.
func linkLocked(f OSFile, dirfd int, tmp, last string, mark []byte) error {
	if err := f.TryLock(); err != nil {
		return fmt.Errorf("locking it before it has a name: %w", err)
	}
	if _, err := f.WriteAt(mark, 0); err != nil {
		return err
	}
	if tmp == "" {
		// linkat with AT_EMPTY_PATH needs a privilege; through /proc it
		// needs none.
		proc := fmt.Sprintf("/proc/self/fd/%d", f.Fd())
		if err := unix.Linkat(unix.AT_FDCWD, proc, dirfd, last, unix.AT_SYMLINK_FOLLOW); err != nil {
			return os.NewSyscallError("linkat", err)
		}
		return nil
	}
	if err := unix.Linkat(dirfd, tmp, dirfd, last, 0); err != nil {
		return os.NewSyscallError("linkat", err)
	}
	return os.NewSyscallError("unlinkat", unix.Unlinkat(dirfd, tmp, 0))
}
