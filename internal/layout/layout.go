// Package layout is where channels live on a file system, shared by the
// mmap and file backends: the Rust crate's paths (root/HHHH_HHHH/
// LLLL_LLLL.kekbit, a .lock file beside it while the channel is made) and
// the Remove and List of a volume, over a small FS interface each backend
// implements for its own file system.
package layout

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
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

// FS is what this package needs from a backend's file system.
type FS interface {
	Remove(name string) error
	ReadDir(dir string) ([]fs.DirEntry, error)
	// Stat describes a file without following a symbolic link.
	Stat(name string) (fs.FileInfo, error)
	MkdirAll(dir string, perm fs.FileMode) error
	Mkdir(dir string, perm fs.FileMode) error
	// RemoveEmptyDir removes dir if it is empty and does nothing else.
	RemoveEmptyDir(dir string)
}

// DirMode is the permission of the folders Create makes.
const DirMode = 0o755

// Create runs create, a backend's creation protocol for the channel file
// at path (name names it in errors), after making the channel's folder; if create fails, it removes
// the folder again if it made it and it is empty. A failed Create of
// another channel may remove the folder between the two: create's error
// then matches fs.ErrNotExist, and Create tries again, three times at most.
func Create(fsys FS, backend, name, path string, create func() (ports.Storage, error)) (ports.Storage, error) {
	dir := filepath.Dir(path)
	for try := 1; ; try++ {
		made, err := mkdir(fsys, dir)
		if err != nil {
			return nil, fmt.Errorf("kekbit: %s: creating %s: %w", backend, name, err)
		}
		st, err := create()
		if err == nil {
			return st, nil
		}
		if made {
			fsys.RemoveEmptyDir(dir)
		}
		if try == 3 || !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
}

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

// NotReady returns ports.ErrChannelNotReady (naming the channel) while the
// lock file of the channel file at path exists, nil when it does not.
func NotReady(fsys FS, backend, name, path string) error {
	lock := LockPath(path)
	_, err := fsys.Stat(lock)
	switch {
	case err == nil:
		return fmt.Errorf("%w: %s (lock file %s exists)", ports.ErrChannelNotReady, name, lock)
	case errors.Is(err, fs.ErrNotExist):
		return nil
	}
	return fmt.Errorf("kekbit: %s: checking the lock file of %s: %w", backend, name, err)
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
// backend names the backend in errors ("mmap", "file").
func Remove(fsys FS, backend, root string, id uint64) error {
	path := ChannelPath(root, id)
	name := fmt.Sprintf("channel %#x (%s)", id, path)
	errFile := fsys.Remove(path)
	errLock := fsys.Remove(LockPath(path))
	goneFile, goneLock := errors.Is(errFile, fs.ErrNotExist), errors.Is(errLock, fs.ErrNotExist)
	switch {
	case goneFile && goneLock:
		return fmt.Errorf("%w: %s", ports.ErrChannelNotFound, name)
	case goneFile:
		errFile = nil
	case goneLock:
		errLock = nil
	}
	if err := multierr.Combine(errFile, errLock); err != nil {
		return fmt.Errorf("kekbit: %s: removing %s: %w", backend, name, err)
	}
	return nil
}

// List returns the ids of the ready channels under root (channel files
// with no lock file), in increasing order. A root that does not exist
// holds no channels.
func List(fsys FS, backend, root string) ([]uint64, error) {
	ids := []uint64{}
	folders, err := fsys.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return ids, nil
	}
	if err != nil {
		return nil, fmt.Errorf("kekbit: %s: listing %s: %w", backend, root, err)
	}
	for _, folder := range folders {
		hi, ok := parseHalf(folder.Name())
		if !ok || !folder.IsDir() {
			continue
		}
		files, err := fsys.ReadDir(filepath.Join(root, folder.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("kekbit: %s: listing %s: %w", backend, root, err)
		}
		locked := make(map[string]bool)
		for _, f := range files {
			if base, ok := strings.CutSuffix(f.Name(), LockExt); ok {
				locked[base] = true
			}
		}
		for _, f := range files {
			base, ok := strings.CutSuffix(f.Name(), ChannelExt)
			lo, okLo := parseHalf(base)
			if ok && okLo && !f.IsDir() && !locked[base] {
				ids = append(ids, uint64(hi)<<32|uint64(lo))
			}
		}
	}
	slices.Sort(ids)
	return ids, nil
}
