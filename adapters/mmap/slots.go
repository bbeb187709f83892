package mmap

import (
	"errors"
	"fmt"
	"os"

	"github.com/kekbit-go/kekbit/internal/layout"
	"github.com/kekbit-go/kekbit/ports"
)

// The lock of writer slot i of a multi-writer channel is a write lock on
// one byte of the channel file, the slot's first (file offset
// slotLockBase + slotLockStride*i; see FORMAT.md): on Linux an open file
// description lock, which belongs to the writer's open file, needs the
// file open for writing and goes when the process dies. A reader's probe
// of the writer's lock (WriterAlive) sees any slot's.
const (
	slotLockBase   = 384
	slotLockStride = 64
	slotLocks      = 10
)

var (
	_ ports.SlotLocker = (*Storage)(nil)
	_ ports.Repairer   = (*Storage)(nil)
	_ ports.Joiner     = (*Volume)(nil)
)

func (s *Storage) slotOffset(i int) (int64, error) {
	if s.closed {
		return 0, ports.ErrStorageClosed
	}
	if i < 0 || i >= slotLocks {
		return 0, fmt.Errorf("%w: slot %d of %d (%s)", ports.ErrOutOfRange, i, slotLocks, s.path)
	}
	return slotLockBase + slotLockStride*int64(i), nil
}

// LockSlot takes slot i's lock for this storage, a writer's, and then
// holds no other lock on the file (a creator's lock on the whole file
// goes, so that other writers can join). It returns an error matching
// ports.ErrWriterAlive if another open file holds it, and one matching
// errors.ErrUnsupported on a system without byte locks (all but Linux so
// far).
func (s *Storage) LockSlot(i int) error {
	off, err := s.slotOffset(i)
	if err != nil {
		return err
	}
	if !s.writable {
		return fmt.Errorf("%w: %s", ErrReadOnly, s.path)
	}
	switch err := s.file.LockByte(off); {
	case errors.Is(err, layout.ErrLocked):
		return fmt.Errorf("%w: slot %d of %s", ports.ErrWriterAlive, i, s.path)
	case err != nil:
		return fmt.Errorf("kekbit: mmap: locking slot %d of %s: %w", i, s.path, err)
	}
	return nil
}

// UnlockSlot releases this storage's lock on slot i.
func (s *Storage) UnlockSlot(i int) error {
	off, err := s.slotOffset(i)
	if err != nil {
		return err
	}
	if err := s.file.UnlockByte(off); err != nil {
		return fmt.Errorf("kekbit: mmap: unlocking slot %d of %s: %w", i, s.path, err)
	}
	return nil
}

// SlotHeld reports whether another open file holds slot i's lock: its
// writer lives.
func (s *Storage) SlotHeld(i int) (bool, error) {
	off, err := s.slotOffset(i)
	if err != nil {
		return false, err
	}
	held, err := s.file.ByteLocked(off)
	if err != nil {
		return false, fmt.Errorf("kekbit: mmap: probing slot %d of %s: %w", i, s.path, err)
	}
	return held, nil
}

// OpenRepair maps the same channel file read-write, taking no lock, for
// a reader to repair the claim of a multi-writer channel's dead writer.
// It fails if the file cannot be opened for writing, or is no longer the
// file this storage maps.
func (s *Storage) OpenRepair() (ports.Storage, error) {
	if s.closed {
		return nil, ports.ErrStorageClosed
	}
	f, err := osFS{}.OpenFile(s.path, true)
	if err != nil {
		return nil, fmt.Errorf("kekbit: mmap: opening %s to repair it: %w", s.path, err)
	}
	a, aerr := s.file.Stat()
	b, berr := f.Stat()
	if aerr != nil || berr != nil || !os.SameFile(a, b) {
		f.Close()
		return nil, fmt.Errorf("kekbit: mmap: %s is no longer the file being read", s.path)
	}
	st, err := newStorage(s.path, f, s.size, true)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("kekbit: mmap: %s: %w", s.path, err)
	}
	return st, nil
}

// OpenToJoin maps channel id's file read-write for one more writer of a
// multi-writer channel, taking no lock: the writer then takes a slot's
// (LockSlot). It refuses a channel still being created
// (ports.ErrChannelNotReady) and a missing one (ports.ErrChannelNotFound).
// With WithPretouch it faults in every page of the mapping first.
func (v *Volume) OpenToJoin(id uint64) (ports.Storage, error) {
	st, err := layout.OpenToJoin(v.files(), v.channel(id))
	return v.opened(id, layout.OpOpenForWrite, st, err)
}

// OpenToJoin is Volume.OpenToJoin for the channel file at path, whatever
// its name and folder; the lock file next to it is honoured.
func OpenToJoin(path string) (*Storage, error) {
	return layout.OpenToJoin(osFS{}, layout.FileChannel(path))
}
