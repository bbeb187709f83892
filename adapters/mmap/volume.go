package mmap

import (
	"fmt"
	"go.uber.org/multierr"

	"github.com/kekbit-go/kekbit/internal/layout"
	"github.com/kekbit-go/kekbit/ports"
)

// Volume is a folder of channel files laid out as the Rust crate lays them
// out (see ChannelPath). It implements ports.Volume, ports.WriteOpener and
// ports.AbandonedRemover; the Storages it returns are *Storage. A Volume
// holds only its root and is safe for concurrent use, by any number of
// processes.
type Volume struct {
	root     string
	pretouch bool
	ahead    bool
	shared   bool
}

var (
	_ ports.Volume             = (*Volume)(nil)
	_ ports.WriteOpener        = (*Volume)(nil)
	_ ports.AbandonedRemover   = (*Volume)(nil)
	_ ports.DeadCreatorClearer = (*Volume)(nil)
)

// VolumeOption configures a Volume.
type VolumeOption func(*Volume)

// WithPretouch makes Create fault in every page of a new channel before its
// writer starts (Storage.Pretouch), Open every page of a reader's mapping,
// and OpenToJoin every page of a joining writer's, so that no page fault
// lands on the hot path. It makes them take longer: about a page fault per
// 4 KiB of capacity.
func WithPretouch() VolumeOption { return func(v *Volume) { v.pretouch = true } }

// WithPretouchAhead makes Create hand a new channel's writer its storage
// at once and populate the mapping's pages in the background, from the
// start, a MiB at a time (MADV_POPULATE_WRITE, which writes nothing), so
// that they are faulted in ahead of the writer where a core is free for
// it; Close stops it. Linux only (elsewhere it does nothing). Unlike
// WithPretouch it makes Create no slower, and it does not touch readers'
// mappings.
func WithPretouchAhead() VolumeOption { return func(v *Volume) { v.ahead = true } }

// WithSharedRoot opts in to a root shared by a group of users: the volume
// then accepts a root and channel folders owned by another user or
// writable by their group, makes a missing root 0775 and its channel
// folders 0775. Without it, such a folder is refused (ErrUntrusted) and a
// missing root is made 0700. A folder writable by every user without the
// sticky bit is refused either way.
func WithSharedRoot() VolumeOption { return func(v *Volume) { v.shared = true } }

// NewVolume returns the volume rooted at root. The folder is made when the
// first channel is created.
func NewVolume(root string, opts ...VolumeOption) *Volume {
	v := &Volume{root: root}
	for _, o := range opts {
		o(v)
	}
	return v
}

// Root returns the volume's folder.
func (v *Volume) Root() string { return v.root }

// Path returns the path of channel id's file.
func (v *Volume) Path(id uint64) string { return ChannelPath(v.root, id) }

// files returns the volume's file system: no symbolic link below the
// root is followed, and the root and channel folders are checked for
// other users (see WithSharedRoot).
func (v *Volume) files() osFS { return osFS{layout.OSFS{Root: v.root, Shared: v.shared}} }

// channel returns channel id, as the protocol names it.
func (v *Volume) channel(id uint64) layout.Channel { return layout.VolumeChannel(v.root, id) }

// Create makes channel id's file of size bytes, reserved on disk
// (fallocate) and zero-filled, runs init on it while the lock file keeps
// readers out, and returns it mapped read-write with the writer's lock
// held. It returns ports.ErrChannelExists if the channel exists or is being
// created, ports.ErrOutOfRange if size is not positive, and an error
// wrapping the system's (syscall.ENOSPC for a full disk) if the file cannot
// be made; on any error, init's included, no file is left behind, nor the
// channel's folder if Create made it and it is still empty. Its errors are
// *ports.ChannelError.
func (v *Volume) Create(id uint64, size int64, init func(ports.Storage) error) (ports.Storage, error) {
	st, err := layout.Create(v.files(), v.channel(id), size, func(st *Storage) error {
		if v.pretouch {
			if err := st.populate(); err != nil {
				return err
			}
		}
		return init(st)
	})
	if err != nil {
		return nil, err
	}
	if v.ahead && !v.pretouch {
		st.startAhead()
	}
	return st, nil
}

// Recycle makes channel to, of size bytes, out of channel from's file
// (ports.Recycler): renamed, not reallocated, its pages resident and its
// old bytes still there for init to overwrite as far as it needs. It
// refuses, with ports.ErrChannelInUse and nothing changed, a file that
// another open file or mapping holds (Linux file leases tell: elsewhere
// it always refuses), whose writer's lock is held, or of another size;
// and the two channels must share a folder (ids with the same high 32
// bits). Its errors are *ports.ChannelError.
func (v *Volume) Recycle(from, to uint64, size int64, init func(ports.Storage) error) (ports.Storage, error) {
	return layout.AsStorage(layout.Recycle(v.files(), v.channel(from), v.channel(to), size, func(st *Storage) error {
		if v.pretouch {
			if err := st.populate(); err != nil {
				return err
			}
		}
		return init(st)
	}))
}

// RecycleStorage is Recycle through st, the writer's own Storage of
// channel from (read-write, its writer's lock held), kept open by a writer
// that means to recycle it: no open and no new mapping, its pages mapped
// already, so the new channel's writer meets no page fault. It returns st
// itself, now channel to's. On an error matching ports.ErrChannelInUse
// (another open file or mapping of it exists) st is as it was. The new
// channel has st's size: unlike Recycle, RecycleStorage is given no size
// to check, so the caller checks that st's is the new channel's.
func (v *Volume) RecycleStorage(st ports.Storage, from, to uint64, init func(ports.Storage) error) (ports.Storage, error) {
	s, ok := st.(*Storage)
	if !ok || !s.writable || s.closed || s.path != v.Path(from) {
		return nil, v.channel(to).Error(layout.OpRecycle, fmt.Errorf("%w: not this volume's open writer's storage of channel %d", ports.ErrChannelInUse, from))
	}
	path := s.path
	r, err := layout.RecycleOpen(v.files(), s.file, s, v.channel(from), v.channel(to), s.size, func(st *Storage) error {
		st.path = v.Path(to)
		return init(st)
	})
	if err != nil {
		if !s.closed {
			s.path = path
		}
		return nil, err
	}
	return r, nil
}

var (
	_ ports.Recycler        = (*Volume)(nil)
	_ ports.StorageRecycler = (*Volume)(nil)
)

// CreateFile makes a channel file at path exactly as Volume.Create does,
// lock file (path with .lock for .kekbit) included, for a channel kept
// outside a volume's layout. The folder must exist. Its errors name the
// path.
func CreateFile(path string, size int64, init func(ports.Storage) error) (*Storage, error) {
	return layout.Create(osFS{}, layout.FileChannel(path), size, func(st *Storage) error { return init(st) })
}

// Open maps channel id's file read-only. It returns
// ports.ErrChannelNotReady while the channel's lock file exists and
// ports.ErrChannelNotFound if there is no channel file, or it was removed
// while being opened. The file needs no write permission. The Storage is a
// *Storage, which tells WriterAlive. Its errors are *ports.ChannelError.
func (v *Volume) Open(id uint64) (ports.Storage, error) {
	st, err := layout.Open(v.files(), v.channel(id))
	return v.opened(id, layout.OpOpen, st, err)
}

// opened finishes an open of channel id by op that gave st and err: it
// hands on the error, and with WithPretouch faults in every page of the
// mapping (closing it if that fails).
func (v *Volume) opened(id uint64, op string, st *Storage, err error) (ports.Storage, error) {
	if err != nil {
		return nil, err
	}
	if v.pretouch {
		if err := st.populate(); err != nil {
			return nil, v.channel(id).Error(op, multierr.Append(err, st.Close()))
		}
	}
	return st, nil
}

// OpenFile maps the channel file at path read-only, whatever its name and
// folder, ignoring lock files: for copies, journals and test vectors. A
// missing file gives ports.ErrChannelNotFound.
func OpenFile(path string) (*Storage, error) { return layout.OpenFile(osFS{}, path) }

// OpenForWrite maps channel id's file read-write and takes the writer's
// lock, for a new writer to carry on a channel whose writer is gone (see
// domain.Resume). It refuses a channel whose writer is alive
// (ports.ErrWriterAlive), one still being created
// (ports.ErrChannelNotReady) and a missing one (ports.ErrChannelNotFound).
// The lock is held until the Storage, a *Storage, is closed. Its errors are
// *ports.ChannelError.
func (v *Volume) OpenForWrite(id uint64) (ports.Storage, error) {
	return layout.AsStorage(layout.OpenForWrite(v.files(), v.channel(id)))
}

// OpenForWrite is Volume.OpenForWrite for the channel file at path, whatever
// its name and folder; the lock file next to it (path with .lock for
// .kekbit) is honoured as Volume.Open honours it.
func OpenForWrite(path string) (*Storage, error) {
	return layout.OpenForWrite(osFS{}, layout.FileChannel(path))
}

// Remove deletes channel id's file and its lock file, if any. Storages
// already open keep working on the unlinked file (on Windows, which removes
// no open file, Remove fails while any Storage of the channel is open: see
// the package documentation). It returns
// ports.ErrChannelNotFound if neither file exists.
func (v *Volume) Remove(id uint64) error { return layout.Remove(v.files(), v.root, id) }

// RemoveAbandoned removes channel id's file and lock file if nobody is at
// work on it: no writer holds its lock (it closed, released it, or died)
// and no live creator holds the lock file's (see the package
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
