//go:build unix

package layout

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kekbit-go/kekbit/ports"
)

// An open that meets a recycler's lease (EWOULDBLOCK: see
// OSFile.TrySole) tries again, leasePause apart, for up to leaseWait: a
// lease is held for the instant of a rename.
const (
	leasePause = 50 * time.Microsecond
	leaseWait  = 2 * time.Second
)

// leaseWaitFor is leaseWait, shortened by the tests.
var leaseWaitFor = leaseWait

// openLeased runs open, and again while it meets a recycler's lease, for
// up to leaseWaitFor; a lease still held then (its holder stopped in the
// middle of a rename) is ports.ErrChannelInUse naming the file, not the
// open's EWOULDBLOCK.
func openLeased(name string, open func() (int, error)) (int, error) {
	fd, err := open()
	if !errors.Is(err, unix.EWOULDBLOCK) {
		return fd, err
	}
	for deadline := time.Now().Add(leaseWaitFor); errors.Is(err, unix.EWOULDBLOCK) && time.Now().Before(deadline); {
		time.Sleep(leasePause)
		fd, err = open()
	}
	if errors.Is(err, unix.EWOULDBLOCK) {
		return -1, fmt.Errorf("%w: %s: the writer recycling it has held a lease on it for %v", ports.ErrChannelInUse, name, leaseWaitFor)
	}
	return fd, err
}

// walk opens the folders of rel, the components of name below the root,
// all but the last, one at a time without following a symbolic link, and
// returns the descriptor of the last folder, which the caller closes.
func (o OSFS) walk(name string, rel []string) (int, error) {
	fd, err := o.openRoot()
	if err != nil {
		return -1, err
	}
	path := o.Root
	for _, c := range rel[:len(rel)-1] {
		if err := o.trusted(fd, path); err != nil {
			unix.Close(fd)
			return -1, err
		}
		path = filepath.Join(path, c)
		next, err := unix.Openat(fd, c, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			return -1, nofollowError("openat", path, err)
		}
		fd = next
	}
	if err := o.trusted(fd, path); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// checkRoot opens the root and checks that it can be trusted.
func (o OSFS) checkRoot() error {
	fd, err := o.openRoot()
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return o.trusted(fd, o.Root)
}

// openRoot opens the root folder. The root itself may be a symbolic link
// of this user's or the superuser's (a path of the caller's own), never
// one of another user: in a folder every user may write, such as
// /dev/shm, another user could plant the link where a root is to be made
// and send the channels into any folder of the victim's (ErrSymlink).
func (o OSFS) openRoot() (int, error) {
	flags := unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC
	var st unix.Stat_t
	if err := unix.Lstat(o.Root, &st); err == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
		if me := os.Geteuid(); int(st.Uid) != me && st.Uid != 0 {
			return -1, fmt.Errorf("%w: the root %s is a link owned by another user (uid %d)", ErrSymlink, o.Root, st.Uid)
		}
	} else {
		flags |= unix.O_NOFOLLOW // a link put there now is refused, not followed
	}
	fd, err := unix.Open(o.Root, flags, 0)
	if err != nil {
		return -1, nofollowError("open", o.Root, err)
	}
	return fd, nil
}

// trusted returns an error wrapping ErrUntrusted, naming dir, its owner and
// mode, if the open folder fd at dir could be subverted by another user:
// see OSFS.
func (o OSFS) trusted(fd int, dir string) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return &fs.PathError{Op: "fstat", Path: dir, Err: err}
	}
	return Trusted(dir, int(st.Uid), uint32(st.Mode)&0o7777, o.Shared)
}

// Trusted returns an error wrapping ErrUntrusted, naming dir, its owner uid
// and its permission bits perm (with setuid, setgid and sticky, as
// st_mode has them), if a folder with them could be subverted by a user
// other than this process's (effective) one: it is owned by another user
// than that one or the superuser, or writable by its group, unless shared;
// or it is writable by others without the sticky bit.
func Trusted(dir string, uid int, perm uint32, shared bool) error {
	const groupWrite, otherWrite, sticky = 0o020, 0o002, 0o1000
	me := os.Geteuid()
	var why string
	switch {
	case perm&otherWrite != 0 && perm&sticky == 0:
		why = "writable by every user, without the sticky bit"
	case shared:
		return nil
	case uid != me && uid != 0:
		why = fmt.Sprintf("owned by another user (not uid %d)", me)
	case perm&groupWrite != 0 && perm&sticky == 0:
		why = "writable by its group (a group-shared root must be opted in)"
	default:
		return nil
	}
	return fmt.Errorf("%w: %s is %s: owner uid %d, mode %#o", ErrUntrusted, dir, why, uid, perm)
}

// nofollowError is the error of system call op on path that failed with
// errno: ErrSymlink naming path if path is a symbolic link (which
// O_NOFOLLOW refuses with ELOOP, or ENOTDIR with O_DIRECTORY), else a
// *fs.PathError.
func nofollowError(op, path string, errno error) error {
	if errors.Is(errno, unix.ELOOP) || errors.Is(errno, unix.ENOTDIR) {
		if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%w: %s", ErrSymlink, path)
		}
	}
	return &fs.PathError{Op: op, Path: path, Err: errno}
}

// at runs op on the last component of name, below the root, in the
// descriptor of its folder.
func (o OSFS) at(name string, rel []string, op func(dirfd int, last string) error) error {
	dirfd, err := o.walk(name, rel)
	if err != nil {
		return err
	}
	defer unix.Close(dirfd)
	return op(dirfd, rel[len(rel)-1])
}

// openDir opens the folder dir, below the root, without following a
// symbolic link, and checks that it can be trusted.
func (o OSFS) openDir(dir string, rel []string) (*os.File, error) {
	var f *os.File
	err := o.at(dir, rel, func(dirfd int, last string) error {
		fd, err := unix.Openat(dirfd, last, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return nofollowError("openat", dir, err)
		}
		if err := o.trusted(fd, dir); err != nil {
			unix.Close(fd)
			return err
		}
		f = os.NewFile(uintptr(fd), dir)
		return nil
	})
	return f, err
}

// Stat describes name without following a symbolic link, checking first
// that no folder on its way below the root is one.
func (o OSFS) Stat(name string) (fs.FileInfo, error) {
	if rel := o.below(name); rel != nil {
		if err := o.at(name, rel, func(int, string) error { return nil }); err != nil {
			return nil, err
		}
	}
	return os.Lstat(name)
}

// Remove removes the file name (a symbolic link itself, not what it names).
func (o OSFS) Remove(name string) error {
	rel := o.below(name)
	if rel == nil {
		return os.Remove(name)
	}
	return o.at(name, rel, func(dirfd int, last string) error {
		if err := unix.Unlinkat(dirfd, last, 0); err != nil {
			return &fs.PathError{Op: "unlinkat", Path: name, Err: err}
		}
		return nil
	})
}

// Rename renames the file from to to, both in the same folder below the
// root (never through a symbolic link), replacing nothing: an error
// matching fs.ErrExist if to exists.
func (o OSFS) Rename(from, to string) error {
	if filepath.Dir(from) != filepath.Dir(to) {
		return &fs.PathError{Op: "rename", Path: from, Err: fmt.Errorf("%s is in another folder", to)}
	}
	rel := o.below(from)
	if rel == nil {
		return renameNoReplace(unix.AT_FDCWD, from, unix.AT_FDCWD, to)
	}
	return o.at(from, rel, func(dirfd int, last string) error {
		if err := renameNoReplace(dirfd, last, dirfd, filepath.Base(to)); err != nil {
			return &fs.PathError{Op: "renameat", Path: from, Err: err}
		}
		return nil
	})
}

// Mkdir makes the folder dir.
func (o OSFS) Mkdir(dir string, perm fs.FileMode) error {
	rel := o.below(dir)
	if rel == nil {
		return os.Mkdir(dir, perm)
	}
	return o.at(dir, rel, func(dirfd int, last string) error {
		if o.Shared {
			perm = 0o775
		}
		if err := unix.Mkdirat(dirfd, last, uint32(perm.Perm())); err != nil {
			return &fs.PathError{Op: "mkdirat", Path: dir, Err: err}
		}
		if !o.Shared {
			return nil
		}
		// The umask may have taken the group's write away: give it back,
		// on the folder just made, never through a link put in its place.
		fd, err := unix.Openat(dirfd, last, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return nofollowError("openat", dir, err)
		}
		defer unix.Close(fd)
		if err := unix.Fchmod(fd, uint32(perm.Perm())); err != nil {
			return &fs.PathError{Op: "fchmod", Path: dir, Err: err}
		}
		return nil
	})
}

// RemoveEmptyDir removes dir if it is empty (rmdir refuses one that is
// not).
func (o OSFS) RemoveEmptyDir(dir string) {
	rel := o.below(dir)
	if rel == nil {
		os.Remove(dir)
		return
	}
	o.at(dir, rel, func(dirfd int, last string) error { return unix.Unlinkat(dirfd, last, unix.AT_REMOVEDIR) })
}

// CreateExclusive creates the file name, which must not exist, with
// FileMode, and opens it read-write; below the root, never through a
// symbolic link.
func (o OSFS) CreateExclusive(name string) (OSFile, error) {
	const flag = unix.O_RDWR | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC
	return o.open(name, flag, func(fd int) (OSFile, error) { return OSFile{File: os.NewFile(uintptr(fd), name)}, nil })
}

// OpenFile opens the existing file name as OpenOSFile does; below the
// root, without following a symbolic link (ErrSymlink).
func (o OSFS) OpenFile(name string, write bool) (OSFile, error) {
	return o.open(name, openFlag(write)|unix.O_NOFOLLOW, func(fd int) (OSFile, error) { return regularFile(fd, name) })
}

// open opens name with flag (openat below the root, open elsewhere) and
// makes an OSFile of its descriptor with done, which owns it.
func (o OSFS) open(name string, flag int, done func(fd int) (OSFile, error)) (OSFile, error) {
	rel := o.below(name)
	if rel == nil {
		fd, err := openLeased(name, func() (int, error) { return unix.Open(name, flag&^unix.O_NOFOLLOW, FileMode) })
		if errors.Is(err, ports.ErrChannelInUse) {
			return OSFile{}, err
		}
		if err != nil {
			return OSFile{}, openError(name, err)
		}
		return done(fd)
	}
	var f OSFile
	err := o.at(name, rel, func(dirfd int, last string) error {
		// A recycler holds a lease on the file (TrySole) for the instant
		// of a rename: once it is given up, the open finds what the path
		// names then.
		fd, err := openLeased(name, func() (int, error) { return unix.Openat(dirfd, last, flag, FileMode) })
		if errors.Is(err, ports.ErrChannelInUse) {
			return err
		}
		if errors.Is(err, unix.EISDIR) {
			return openError(name, err)
		}
		if err != nil {
			return nofollowError("openat", name, err)
		}
		f, err = done(fd)
		return err
	})
	return f, err
}

// OpenOSFile opens the existing file name, read-write if write, else
// read-only, without blocking: O_NONBLOCK, so that a FIFO at the path does
// not wait for a writer, then fstat, which refuses anything but a regular
// file (ErrNotRegular), then O_NONBLOCK is cleared again.
func OpenOSFile(name string, write bool) (OSFile, error) {
	return OSFS{}.OpenFile(name, write)
}

// openFlag is the flag of OpenFile: read-only or read-write, without
// blocking.
func openFlag(write bool) int {
	flag := unix.O_RDONLY
	if write {
		flag = unix.O_RDWR
	}
	return flag | unix.O_NONBLOCK | unix.O_CLOEXEC
}

// openError is the error of an open of name that failed with errno: a
// folder opened for writing (EISDIR) is ErrNotRegular.
func openError(name string, errno error) error {
	if errors.Is(errno, unix.EISDIR) {
		return fmt.Errorf("%w (a folder): %w", ErrNotRegular, errno)
	}
	return &fs.PathError{Op: "open", Path: name, Err: errno}
}

// regularFile makes an OSFile of fd, opened with O_NONBLOCK at name, if
// it is a regular file, and clears O_NONBLOCK; else it closes fd and
// returns ErrNotRegular naming what the file is.
func regularFile(fd int, name string) (OSFile, error) {
	var st unix.Stat_t
	err := unix.Fstat(fd, &st)
	if err == nil && st.Mode&unix.S_IFMT != unix.S_IFREG {
		err = fmt.Errorf("%w (%s)", ErrNotRegular, fileKind(uint32(st.Mode)))
	} else if err == nil {
		err = unix.SetNonblock(fd, false)
	}
	if err != nil {
		unix.Close(fd)
		return OSFile{}, err
	}
	return OSFile{File: os.NewFile(uintptr(fd), name)}, nil
}

// fileKind names the kind of file mode's type bits say.
func fileKind(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFIFO:
		return "a FIFO"
	case unix.S_IFDIR:
		return "a folder"
	case unix.S_IFCHR:
		return "a character device"
	case unix.S_IFBLK:
		return "a block device"
	case unix.S_IFSOCK:
		return "a socket"
	case unix.S_IFLNK:
		return "a symbolic link"
	}
	return fmt.Sprintf("file type %#o", mode&unix.S_IFMT)
}
