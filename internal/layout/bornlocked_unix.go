//go:build unix && !solaris

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
// CreateExclusive. Where the file system makes no hard links (vfat,
// exFAT, some network and FUSE file systems) it leaves nothing and returns
// an error matching ErrNotBornLocked. A process killed before the
// link leaves nothing at name; with a temporary name (no O_TMPFILE), the
// temporary file may stay behind, ".NAME.XXXXXXXXXXXXXXXX.tmp", its lock
// free, for an operator to remove (so may one that could not be removed
// after the link).
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
// (name is the whole path, for errors and the file's name): an unnamed
// file where the system makes one, else (or if it cannot be linked) one
// with a temporary name. Where the file system cannot link (vfat, exFAT,
// some network and FUSE file systems), it leaves nothing behind and
// returns an error matching ErrNotBornLocked, so that the lock file is
// made by CreateExclusive.
func bornLocked(dirfd int, last, name string, mark []byte) (OSFile, error) {
	if fd, err := openUnnamed(dirfd); err == nil {
		f, err := linkInto(fd, dirfd, "", last, name, mark)
		var le *linkError
		if err == nil || !errors.As(err, &le) || errors.Is(err, fs.ErrExist) {
			return f, err
		}
		// The unnamed file could not be linked (a /proc of another pid
		// namespace, say): a temporary name may be.
	}
	// A temporary name, which no one else creates (O_EXCL) or guesses.
	var b [8]byte
	rand.Read(b[:])
	tmp := "." + last + "." + hex.EncodeToString(b[:]) + ".tmp"
	fd, err := unix.Openat(dirfd, tmp, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, FileMode)
	if err != nil {
		return OSFile{}, nofollowError("openat", filepath.Join(filepath.Dir(name), tmp), err)
	}
	return linkInto(fd, dirfd, tmp, last, name, mark)
}

// linkInto takes the new file fd (named tmp in dirfd, or unnamed if tmp
// is "") for the lock file: it locks it, writes mark into it and links it
// into dirfd as last, then removes tmp if it can (the lock file is in
// place and held by then, so a temporary name left behind is only
// clutter). On a failure it removes tmp and closes fd, and says
// ErrNotBornLocked where the file system cannot link.
func linkInto(fd, dirfd int, tmp, last, name string, mark []byte) (OSFile, error) {
	f := OSFile{File: os.NewFile(uintptr(fd), name)}
	fail := func(err error) (OSFile, error) {
		if tmp != "" {
			unlinkat(dirfd, tmp, 0)
		}
		f.Close()
		if cannotLink(err) {
			return OSFile{}, fmt.Errorf("%w: %w", ErrNotBornLocked, err)
		}
		return OSFile{}, err
	}
	if err := f.TryLock(); err != nil {
		return fail(fmt.Errorf("locking it before it has a name: %w", err))
	}
	if _, err := f.WriteAt(mark, 0); err != nil {
		return fail(err)
	}
	var err error
	if tmp == "" {
		err = linkUnnamed(fd, dirfd, last)
	} else {
		err = linkat(dirfd, tmp, dirfd, last, 0)
	}
	if err != nil {
		return fail(&linkError{err})
	}
	if tmp != "" {
		unlinkat(dirfd, tmp, 0)
	}
	return f, nil
}

// cannotLink reports whether err, linkInto's, says that the file system
// makes no hard links (or none from an unnamed file), not that the link
// failed for a cause CreateExclusive would meet as well.
func cannotLink(err error) bool {
	var le *linkError
	if !errors.As(err, &le) {
		return false
	}
	for _, e := range []error{unix.EPERM, unix.EOPNOTSUPP, unix.ENOTSUP, unix.ENOSYS, unix.EXDEV, unix.EMLINK} {
		if errors.Is(le.err, e) {
			return true
		}
	}
	return false
}

// linkError is linkInto's failure to link the lock file at its name.
type linkError struct{ err error }

func (e *linkError) Error() string { return "linking it at its name: " + e.err.Error() }
func (e *linkError) Unwrap() error { return e.err }

// linkat and unlinkat are unix's, apart for the tests of their failures.
var (
	linkat   = unix.Linkat
	unlinkat = unix.Unlinkat
)
