package mmap

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kekbit-go/kekbit/internal/layout"
	"github.com/kekbit-go/kekbit/ports"
)

// FileVolume is a volume of one channel file at a path of the caller's,
// outside any folder layout (a copy, a file named on a command line): every
// channel id names that file, and the reader checks the header's id. It
// implements ports.Volume and ports.WriteOpener with CreateFile, OpenFile
// and OpenForWrite on the path, and ports.AbandonedRemover. Open honours no lock file (as OpenFile);
// Create makes the folder if it is missing.
type FileVolume struct{ path string }

// NewFileVolume returns the volume of the channel file at path.
func NewFileVolume(path string) *FileVolume { return &FileVolume{path: path} }

// Path returns the file's path.
func (v *FileVolume) Path() string { return v.path }

// Create makes the channel file as CreateFile does, whatever channelID.
func (v *FileVolume) Create(channelID uint64, size int64, init func(ports.Storage) error) (ports.Storage, error) {
	if err := os.MkdirAll(filepath.Dir(v.path), layout.DirMode); err != nil {
		return nil, &ports.ChannelError{Op: "create", ChannelID: channelID, Path: v.path, Err: err}
	}
	st, err := CreateFile(v.path, size, init)
	if err != nil {
		return nil, err
	}
	return st, nil
}

// Open maps the file read-only, as OpenFile does.
func (v *FileVolume) Open(uint64) (ports.Storage, error) {
	st, err := OpenFile(v.path)
	if err != nil {
		return nil, err
	}
	return st, nil
}

// OpenForWrite maps the file read-write with the writer's lock, as the
// function OpenForWrite does.
func (v *FileVolume) OpenForWrite(uint64) (ports.Storage, error) {
	st, err := OpenForWrite(v.path)
	if err != nil {
		return nil, err
	}
	return st, nil
}

// Remove deletes the file and its lock file.
func (v *FileVolume) Remove(channelID uint64) error {
	err := os.Remove(v.path)
	os.Remove(LockPath(v.path))
	if errors.Is(err, os.ErrNotExist) {
		return &ports.ChannelError{Op: "remove", ChannelID: channelID, Path: v.path, Err: ports.ErrChannelNotFound}
	}
	if err != nil {
		return &ports.ChannelError{Op: "remove", ChannelID: channelID, Path: v.path, Err: err}
	}
	return nil
}

// List returns the id in the file's header, or none if there is no file.
func (v *FileVolume) List() ([]uint64, error) {
	st, err := OpenFile(v.path)
	if err != nil {
		if errors.Is(err, ports.ErrChannelNotFound) {
			return []uint64{}, nil
		}
		return nil, err
	}
	defer st.Close()
	id, err := st.LoadUint64(24) // the header's channel id
	if err != nil {
		return nil, fmt.Errorf("kekbit: mmap: reading the header of %s: %w", v.path, err)
	}
	return []uint64{id}, nil
}

var (
	_ ports.Volume             = (*FileVolume)(nil)
	_ ports.WriteOpener        = (*FileVolume)(nil)
	_ ports.DeadCreatorClearer = (*FileVolume)(nil)
)

// RemoveAbandoned removes the file and its lock file as Volume.RemoveAbandoned
// removes a channel, whatever channelID: if no writer holds the file's lock
// (ports.ErrWriterAlive) and no live creator the lock file's
// (ports.ErrChannelNotReady); ports.ErrChannelNotFound if neither file is
// there.
func (v *FileVolume) RemoveAbandoned(uint64) error {
	return layout.RemoveAbandonedChannel(osFS{}, layout.FileChannel(v.path))
}

// ClearDeadCreator removes what a creator of the file that died before it
// was ready left, whatever channelID, as Volume.ClearDeadCreator does.
func (v *FileVolume) ClearDeadCreator(uint64) (bool, error) {
	return layout.ClearDeadCreator(osFS{}, layout.FileChannel(v.path))
}
