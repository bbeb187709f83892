package file

import (
	"fmt"

	"github.com/spf13/afero"

	"github.com/kekbit-go/kekbit/internal/layout"
	"github.com/kekbit-go/kekbit/ports"
)

// Volume is a folder of channel files in an afero.Fs, laid out as the mmap
// backend and the Rust crate lay them out (see ChannelPath). It implements
// ports.Volume, ports.WriteOpener and ports.AbandonedRemover; the Storages
// it returns are *Storage. A Volume holds only its file system and root
// and is safe for concurrent use.
type Volume struct {
	fs     afero.Fs
	root   string
	shared bool
}

var (
	_ ports.Volume             = (*Volume)(nil)
	_ ports.WriteOpener        = (*Volume)(nil)
	_ ports.AbandonedRemover   = (*Volume)(nil)
	_ ports.DeadCreatorClearer = (*Volume)(nil)
)

// VolumeOption configures a Volume.
type VolumeOption func(*Volume)

// WithSharedRoot opts in to a root shared by a group of users, on
// afero.OsFs: the volume then accepts a root and channel folders owned by
// another user or writable by their group (see package mmap's
// WithSharedRoot, which it matches). Other file systems have no owners.
func WithSharedRoot() VolumeOption { return func(v *Volume) { v.shared = true } }

// NewVolume returns the volume rooted at root in fsys. The folder is made
// when the first channel is created. On afero.OsFs the volume trusts no
// other user with its folder, as the mmap backend's does: it follows no
// symbolic link below the root and refuses a root or channel folder
// another user could subvert (ErrUntrusted) unless WithSharedRoot.
func NewVolume(fsys afero.Fs, root string, opts ...VolumeOption) *Volume {
	v := &Volume{fs: fsys, root: root}
	for _, o := range opts {
		o(v)
	}
	return v
}

// files returns the volume's half of the channel-file protocol.
func (v *Volume) files() aferoFS { return filesOf(v.fs, v.root, v.shared) }

// Fs returns the volume's file system.
func (v *Volume) Fs() afero.Fs { return v.fs }

// Root returns the volume's folder.
func (v *Volume) Root() string { return v.root }

// Path returns the path of channel id's file.
func (v *Volume) Path(id uint64) string { return ChannelPath(v.root, id) }

// Create makes channel id's file of size bytes, zero-filled, runs init on it
// while the lock file keeps readers out, syncs it, and returns it open
// read-write with the writer's lock held. It returns ports.ErrChannelExists
// if the channel exists or is being created, ports.ErrOutOfRange if size is
// not positive, and an error wrapping the file system's if the file cannot
// be made; on any error, init's included, no file is left behind, nor the
// channel's folder if Create made it and it is still empty. Its errors are
// *ports.ChannelError.
func (v *Volume) Create(id uint64, size int64, init func(ports.Storage) error) (ports.Storage, error) {
	return layout.AsStorage(layout.Create(v.files(), layout.VolumeChannel(v.root, id), size, initAndSync(init)))
}

// CreateFile makes a channel file at path in fsys exactly as Volume.Create
// does, lock file (path with .lock for .kekbit) included, for a channel kept
// outside a volume's layout. The folder must exist. Its errors name the
// path.
func CreateFile(fsys afero.Fs, path string, size int64, init func(ports.Storage) error) (*Storage, error) {
	return layout.Create(filesOf(fsys, "", false), layout.FileChannel(path), size, initAndSync(init))
}

// initAndSync runs init on a new channel's storage, then syncs the file
// (fsync on OsFs), before the channel becomes ready.
func initAndSync(init func(ports.Storage) error) func(*Storage) error {
	return func(st *Storage) error {
		if err := init(st); err != nil {
			return err
		}
		if err := st.file.Sync(); err != nil {
			return fmt.Errorf("syncing: %w", layout.StripPath(err))
		}
		return nil
	}
}

// Open opens channel id's file read-only. It returns
// ports.ErrChannelNotReady while the channel's lock file exists and
// ports.ErrChannelNotFound if there is no channel file, or it was removed
// while being opened (where the file system can tell: see the package
// documentation). The file needs no write permission. Its errors are
// *ports.ChannelError.
func (v *Volume) Open(id uint64) (ports.Storage, error) {
	return layout.AsStorage(layout.Open(v.files(), layout.VolumeChannel(v.root, id)))
}

// OpenFile opens the channel file at path in fsys read-only, whatever its
// name and folder, ignoring lock files: for copies, journals and test
// vectors. A missing file gives ports.ErrChannelNotFound.
func OpenFile(fsys afero.Fs, path string) (*Storage, error) {
	return layout.OpenFile(filesOf(fsys, "", false), path)
}

// OpenForWrite opens channel id's file read-write and takes the writer's
// lock, for a new writer to carry on a channel whose writer is gone (see
// domain.Resume). It refuses a channel whose writer holds it
// (ports.ErrWriterAlive), one still being created
// (ports.ErrChannelNotReady) and a missing one (ports.ErrChannelNotFound).
// The lock is held until the Storage, a *Storage, is closed. Its errors are
// *ports.ChannelError.
func (v *Volume) OpenForWrite(id uint64) (ports.Storage, error) {
	return layout.AsStorage(layout.OpenForWrite(v.files(), layout.VolumeChannel(v.root, id)))
}

// OpenForWrite is Volume.OpenForWrite for the channel file at path in
// fsys, whatever its name and folder; the lock file next to it (path with
// .lock for .kekbit) is honoured as Volume.Open honours it.
func OpenForWrite(fsys afero.Fs, path string) (*Storage, error) {
	return layout.OpenForWrite(filesOf(fsys, "", false), layout.FileChannel(path))
}

// Remove deletes channel id's file and its lock file, if any. Storages
// already open keep working where the file system allows it (MemMapFs, and
// OsFs on Unix). It returns ports.ErrChannelNotFound if neither file
// exists.
func (v *Volume) Remove(id uint64) error { return layout.Remove(v.files(), v.root, id) }

// RemoveAbandoned removes channel id's file and lock file if nobody is at
// work on it: no writer holds its writer's lock (it closed, released it,
// or died) and no live creator holds the lock file's (see the package
// documentation). It returns ports.ErrWriterAlive for a channel whose
// writer holds it, ports.ErrChannelNotReady for one a live creator is
// still making, ports.ErrChannelNotFound if there is none.
func (v *Volume) RemoveAbandoned(id uint64) error {
	return layout.RemoveAbandoned(v.files(), v.root, id)
}

// ClearDeadCreator removes what a creator of channel id that died before
// the channel was ready left (see ports.DeadCreatorClearer and the package
// documentation), and reports whether it removed anything.
func (v *Volume) ClearDeadCreator(id uint64) (bool, error) {
	return layout.ClearDeadCreator(v.files(), layout.VolumeChannel(v.root, id))
}

// List returns the ids of the ready channels under the root (channel files
// with no lock file), in increasing order. A root that does not exist
// holds no channels.
func (v *Volume) List() ([]uint64, error) { return layout.List(v.files(), v.root) }
