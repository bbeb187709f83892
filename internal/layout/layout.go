package layout

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"go.uber.org/multierr"

	"github.com/kekbit-go/kekbit/ports"
)

// Extensions of the files of a channel.
const (
	ChannelExt = ".kekbit" // ends the name of a channel file
	LockExt    = ".lock"   // ends the name of the lock file of a channel being made
)

// ErrNotChannelPath is returned by ParseChannelPath for a path that is not
// root/HHHH_HHHH/LLLL_LLLL.kekbit.
var ErrNotChannelPath = errors.New("kekbit: not a channel file path")

// ChannelPath returns the path of channel id's file under root: the high
// 32 bits of the id name the folder, the low 32 bits the file.
func ChannelPath(root string, id uint64) string {
	return filepath.Join(root, half(uint32(id>>32)), half(uint32(id))+ChannelExt)
}

// LockPath returns the path of the lock file of the channel file at
// channelPath: the same path with .lock in place of .kekbit.
func LockPath(channelPath string) string {
	return strings.TrimSuffix(channelPath, ChannelExt) + LockExt
}

// ParseChannelPath returns the channel id of the channel file at path under
// root, the reverse of ChannelPath, or an error wrapping ErrNotChannelPath.
func ParseChannelPath(root, path string) (uint64, error) {
	rel, err := filepath.Rel(root, path)
	if err != nil {
		return 0, fmt.Errorf("%w: %s: %w", ErrNotChannelPath, path, err)
	}
	folder, file, ok := strings.Cut(filepath.ToSlash(rel), "/")
	if !ok {
		return 0, fmt.Errorf("%w: %s is not in a channel folder of %s", ErrNotChannelPath, path, root)
	}
	hi, okHi := parseHalf(folder)
	name, isChannel := strings.CutSuffix(file, ChannelExt)
	lo, okLo := parseHalf(name)
	if !okHi || !isChannel || !okLo {
		return 0, fmt.Errorf("%w: %s (want %s/HHHH_HHHH/LLLL_LLLL%s)", ErrNotChannelPath, path, root, ChannelExt)
	}
	return uint64(hi)<<32 | uint64(lo), nil
}

// half formats 32 bits as the crate does: "hhhh_llll", lowercase hex.
func half(v uint32) string { return fmt.Sprintf("%04x_%04x", v>>16, v&0xFFFF) }

// parseHalf is the reverse of half. It accepts only what half writes.
func parseHalf(s string) (uint32, bool) {
	if len(s) != 9 || s[4] != '_' {
		return 0, false
	}
	var v uint32
	for i := range len(s) {
		if i == 4 {
			continue
		}
		c := s[i]
		switch {
		case '0' <= c && c <= '9':
			v = v<<4 | uint32(c-'0')
		case 'a' <= c && c <= 'f':
			v = v<<4 | uint32(c-'a'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

// FS is what the protocol needs from a backend's file system besides its
// files (see Files).
type FS interface {
	Remove(name string) error
	ReadDir(dir string) ([]fs.DirEntry, error)
	// Stat describes a file (without following a symbolic link where the
	// file system has them).
	Stat(name string) (fs.FileInfo, error)
	MkdirAll(dir string, perm fs.FileMode) error
	Mkdir(dir string, perm fs.FileMode) error
	// RemoveEmptyDir removes dir if it is empty and does nothing else.
	RemoveEmptyDir(dir string)
}

// DirMode is the permission of the folders Create makes.
const DirMode = 0o755

// FileMode is the permission of the files Create makes: anyone may read a
// channel, only its writer's user may write it.
const FileMode = 0o644

// mkdir makes the folder dir and its parents, and reports whether it made
// dir itself.
func mkdir(fsys FS, dir string) (made bool, err error) {
	if err := fsys.MkdirAll(filepath.Dir(dir), DirMode); err != nil {
		return false, err
	}
	err = fsys.Mkdir(dir, DirMode)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	return err == nil, err
}

// RemoveIfExists removes path; a path already gone is not an error.
func RemoveIfExists(fsys FS, path string) error {
	if err := fsys.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Remove deletes channel id's file and lock file under root; what is
// already gone is no error, but ports.ErrChannelNotFound if both are.
func Remove(fsys FS, root string, id uint64) error {
	c := VolumeChannel(root, id)
	errFile := fsys.Remove(c.Path)
	errLock := fsys.Remove(LockPath(c.Path))
	goneFile, goneLock := errors.Is(errFile, fs.ErrNotExist), errors.Is(errLock, fs.ErrNotExist)
	switch {
	case goneFile && goneLock:
		return c.Error(OpRemove, ports.ErrChannelNotFound)
	case goneFile:
		errFile = nil
	case goneLock:
		errLock = nil
	}
	if err := multierr.Combine(StripPath(errFile), step("removing its lock file", errLock)); err != nil {
		return c.Error(OpRemove, err)
	}
	return nil
}

// List returns the ids of the ready channels under root (regular channel
// files with no lock file), in increasing order. A root that does not
// exist holds no channels.
func List(fsys FS, root string) ([]uint64, error) {
	all, err := scan(fsys, root)
	if err != nil {
		return nil, err
	}
	ids := []uint64{}
	for _, f := range all {
		if f.file && !f.lock && !f.irregular {
			ids = append(ids, f.id)
		}
	}
	return ids, nil
}

// listError is the error of a List of root: it names root once, and the
// folder under it that failed, if it is not root.
func listError(root string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && filepath.Clean(pe.Path) == filepath.Clean(root) {
		err = StripPath(err)
	}
	return fmt.Errorf("kekbit: list channels in %s: %w", root, err)
}
