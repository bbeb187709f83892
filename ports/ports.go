package ports

import (
	"errors"
	"fmt"
	"strings"
)

// Errors returned by implementations of [Storage] and [Volume]. Adapters wrap
// them (and any operating-system error) with %w, so callers test them with
// errors.Is.
var (
	// ErrUnalignedOffset is returned by LoadUint64 and StoreUint64 when the
	// offset is not a multiple of 8.
	ErrUnalignedOffset = errors.New("kekbit: offset is not 8-byte aligned")
	// ErrOutOfRange is returned when an access would reach outside the
	// storage's Size.
	ErrOutOfRange = errors.New("kekbit: access outside the storage")
	// ErrStorageClosed is returned by every method but Close once Close has
	// been called.
	ErrStorageClosed = errors.New("kekbit: storage is closed")
	// ErrChannelExists is returned by Volume.Create when the channel already
	// exists, finished or still being created.
	ErrChannelExists = errors.New("kekbit: channel already exists")
	// ErrChannelNotFound is returned by Volume.Open and Volume.Remove when no
	// channel has the id.
	ErrChannelNotFound = errors.New("kekbit: channel not found")
	// ErrChannelInUse is returned by Recycler.Recycle when another open
	// file of the channel to recycle exists (a reader holds it), or the
	// system cannot tell: nothing was changed, remove it instead. An open
	// of a channel file that a recycler's lease keeps for more than 2
	// seconds (its writer stopped in the middle of a rename) returns it
	// too, naming the file.
	ErrChannelInUse = errors.New("kekbit: channel is open elsewhere")
	// ErrChannelNotReady is returned by Volume.Open while the channel is
	// still being created by its writer.
	ErrChannelNotReady = errors.New("kekbit: channel is still being created")
	// ErrWriterAlive is returned by WriteOpener.OpenForWrite and
	// AbandonedRemover.RemoveAbandoned when a writer still holds the
	// channel: its process runs and has not closed or released it.
	ErrWriterAlive = errors.New("kekbit: the channel's writer is alive")
)

// ChannelError is the error of an operation on one channel of a volume. It
// names the operation, the channel and where it lives once; Err says why:
// one of this package's sentinels, an operating-system error (so that
// errors.Is(err, syscall.ENOSPC) works), or both. Volumes return their
// errors as a *ChannelError.
type ChannelError struct {
	Op        string // what was done: "create", "open", "open for write", "remove", ...
	ChannelID uint64 // the channel's id
	Path      string // the channel's file, or "" for a volume without files
	Err       error  // why it failed
}

func (e *ChannelError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "kekbit: %s channel %#x", e.Op, e.ChannelID)
	if e.Path != "" {
		fmt.Fprintf(&b, " (%s)", e.Path)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.Err.Error(), "kekbit: "))
	}
	return b.String()
}

// Unwrap returns Err.
func (e *ChannelError) Unwrap() error { return e.Err }

// Storage is the bytes of one channel: the 128-byte header at offset 0, the
// data region at offset 1024 and the footer after it.
//
// A Storage is used by one goroutine at a time. Several Storages may view
// the same channel (one writer, many readers); the writer publishes with
// StoreUint64 and readers observe with LoadUint64, which order every other
// access the way sync/atomic does.
type Storage interface {
	// Size returns the length of the storage in bytes when it was opened.
	// It does not change for the life of the Storage; a file that someone
	// else cuts short meanwhile is told by the optional Sizer.
	Size() int64
	// ReadAt copies len(p) bytes from offset off into p. Reading past Size
	// returns the bytes that are there and ErrOutOfRange.
	ReadAt(p []byte, off int64) (int, error)
	// WriteAt copies p to offset off. Writing past Size writes nothing and
	// returns ErrOutOfRange.
	WriteAt(p []byte, off int64) (int, error)
	// LoadUint64 reads the little-endian 64-bit word at off with acquire
	// ordering: every byte stored before the matching StoreUint64 is visible
	// afterwards. off must be a multiple of 8 (ErrUnalignedOffset) and the
	// word wholly inside Size (ErrOutOfRange).
	LoadUint64(off int64) (uint64, error)
	// StoreUint64 writes v as a little-endian 64-bit word at off with release
	// ordering: it becomes visible after every byte written before it. Same
	// alignment and range rules as LoadUint64.
	StoreUint64(off int64, v uint64) error
	// Flush makes the bytes written so far durable as far as the backend can
	// (msync, fsync); a no-op for memory.
	Flush() error
	// Close releases the storage. It does not flush. A second Close returns
	// nil; every other method returns ErrStorageClosed after Close.
	Close() error
}

// Addressable is an optional ability of a Storage whose bytes live in this
// process's memory (a memory region, an mmapped file). Bytes and Words view
// the same memory: Words()[i] is Bytes()[8*i : 8*i+8] as a native-endian
// word. Both have the length and lifetime of the Storage, and must not be
// used after Close. A read-only storage returns a read-only view: writing to
// it faults.
//
// The domain uses these views, when present, to encode and hand out payloads
// with no copy and no interface call per record; it uses sync/atomic on Words
// for the length words, so the observable behaviour is the same as through
// the Storage methods.
type Addressable interface {
	Bytes() []byte
	Words() []uint64
}

// TornWords is an optional ability of a Storage whose LoadUint64 can
// return a word that another open file's StoreUint64 was writing, stopped
// half way: some of its bytes new and the rest old, read so even twice in
// a row (the file backend, whose words are preads and pwrites). A reader
// that meets through such a storage a word that cannot be (a length above
// the max) reads it again for a while before calling it corrupt. A
// storage that is not a TornWords, or returns false, never tears a word.
type TornWords interface {
	TornWords() bool
}

// FaultProne is an optional ability of an Addressable storage whose memory
// can vanish under the process: a mapped file that another process cuts
// short, so that touching the lost pages raises SIGBUS. The domain touches
// such memory with runtime/debug.SetPanicOnFault on and reports a fault as
// a truncated channel instead of crashing.
type FaultProne interface {
	// Faulted reports whether a memory fault at addr lies in the storage's
	// memory.
	Faulted(addr uintptr) bool
}

// Liveness is an optional ability of a storage that can tell whether the
// channel's writer still holds it, such as a file whose writer keeps a lock
// on it for its whole life.
type Liveness interface {
	// WriterAlive reports whether a writer holds the channel now.
	WriterAlive() (bool, error)
}

// Sizer is an optional ability of a storage whose file someone else may cut
// short while it is open: CurrentSize returns the size now (fstat), which
// may be less than Size. A reader asks it when it idles, so that it stops
// at the new end instead of reading what the cut left as zeros.
type Sizer interface {
	CurrentSize() (int64, error)
}

// Pretoucher is an optional ability of a storage whose pages are faulted in
// on first touch (a mapped file): Pretouch faults them all in now, so that
// the hot path never pays a page fault.
type Pretoucher interface {
	Pretouch() error
}

// Volume is where channels live: a folder of channel files, a set of memory
// regions. Channels are named by their 64-bit channel id.
type Volume interface {
	// Create makes a new channel of size bytes, zero-filled, exclusively: it
	// returns ErrChannelExists if the id is taken. init runs on the new
	// storage before any reader can open the channel (Open returns
	// ErrChannelNotReady meanwhile); if init fails, the channel is removed
	// and init's error returned. On success the returned Storage is the one
	// init saw, still open, for the writer to keep.
	Create(channelID uint64, size int64, init func(Storage) error) (Storage, error)
	// Open opens an existing channel for reading. ErrChannelNotFound if there
	// is none, ErrChannelNotReady while it is being created.
	Open(channelID uint64) (Storage, error)
	// Remove deletes the channel. Storages already open keep working where
	// the backend allows it (memory, Unix files). ErrChannelNotFound if
	// there is none.
	Remove(channelID uint64) error
	// List returns the ids of the channels that are ready, in increasing
	// order.
	List() ([]uint64, error)
}

// WriteOpener is an optional ability of a Volume whose channels a new writer
// can carry on after the old one is gone (its process died, or it released
// the channel).
type WriteOpener interface {
	// OpenForWrite opens channel channelID for writing and takes the
	// writer's hold on it (for files: the writer's lock), kept until the
	// Storage is closed. It returns ErrWriterAlive if a writer holds the
	// channel, ErrChannelNotReady while it is being created and
	// ErrChannelNotFound if there is none.
	OpenForWrite(channelID uint64) (Storage, error)
}

// Recycler is an optional ability of a Volume that can make a new channel
// of an old one's file instead of a new file: no allocation, no zeroing,
// its pages already in memory (a journal's retired segment becomes its
// next). The old channel is gone once the new one is made.
type Recycler interface {
	// Recycle makes channel to, of size bytes, out of channel from's
	// file, which no writer may hold and nobody may have open (checked:
	// ErrChannelInUse otherwise, with nothing changed), renamed to to's
	// name while a lock file keeps readers of to out, as Create does; init
	// runs on its storage, which holds from's old bytes, before any reader
	// can open to. It fails with ErrChannelExists if to exists, and with
	// ErrChannelInUse, nothing changed, if from's file cannot be recycled
	// (in use, another size, not there). A crash at any step leaves from
	// as it was or gone, and to absent or abandoned in its creation
	// (AbandonedRemover removes it).
	Recycle(from, to uint64, size int64, init func(Storage) error) (Storage, error)
}

// StorageRecycler is an optional ability of a Recycler: recycling through
// the writer's own Storage of the old channel, kept open for it, so that
// the new channel needs no new open or mapping.
type StorageRecycler interface {
	// RecycleStorage is Recycle through st, a writable Storage of channel
	// from that this volume made (its writer's hold kept), returned as
	// channel to's. On ErrChannelInUse st is as it was, else after an
	// error it is closed.
	RecycleStorage(st Storage, from, to uint64, init func(Storage) error) (Storage, error)
}

// AbandonedRemover is an optional ability of a Volume that can tell a
// channel nobody holds from one whose writer or creator is still at work.
type AbandonedRemover interface {
	// RemoveAbandoned removes channel channelID if no writer holds it (it
	// was closed or released, or its writer died) or if its creator died
	// before it was ready, so that the id can be used again. It returns
	// ErrWriterAlive for a channel whose writer holds it,
	// ErrChannelNotReady for one a live creator is still making, and
	// ErrChannelNotFound if there is none.
	RemoveAbandoned(channelID uint64) error
}

// DeadCreatorClearer is an optional ability of a Volume whose channels
// can be left half made by a creator that died (a process killed in the
// middle of its Create).
type DeadCreatorClearer interface {
	// ClearDeadCreator removes what the dead creator of channel channelID
	// left, and nothing else, as the id's next Create does before it
	// creates the channel again; it reports whether it removed anything.
	// A ready channel, or none: false and nil. One a live creator is still
	// making: ErrChannelNotReady.
	ClearDeadCreator(channelID uint64) (bool, error)
}

// SlotLocker is an optional ability of a storage of a multi-writer
// channel: a lock per writer slot, held by the writer that uses the slot
// for as long as it lives and dropped when its process dies (for files:
// an open file description lock on one byte of the slot; in memory: until
// the handle is closed). A writer's storage holds at most one slot.
type SlotLocker interface {
	// LockSlot takes slot i's lock without waiting, for this storage; it
	// returns an error matching ErrWriterAlive if another storage holds it.
	// A storage that held the whole channel (a creator's) keeps only the
	// slot's lock afterwards, so that other writers can join.
	LockSlot(i int) error
	// UnlockSlot releases slot i's lock held by this storage.
	UnlockSlot(i int) error
	// SlotHeld reports whether any storage, this one included, holds slot
	// i's lock now.
	SlotHeld(i int) (bool, error)
}

// Joiner is an optional ability of a Volume whose multi-writer channels a
// writer can join while others write: open the channel read-write with no
// hold on the whole channel (each writer then takes a slot, SlotLocker).
type Joiner interface {
	// OpenToJoin opens channel channelID read-write for one more writer.
	// It returns ErrChannelNotReady while the channel is being created and
	// ErrChannelNotFound if there is none. The Storage is a SlotLocker.
	OpenToJoin(channelID uint64) (Storage, error)
}

// Repairer is an optional ability of a reader's storage of a multi-writer
// channel: a writable view of the same channel, through which a reader
// turns the claim of a writer that died into what the format says (see
// FORMAT.md, "Multiple writers"). It takes no lock. The caller closes it.
type Repairer interface {
	OpenRepair() (Storage, error)
}
