// Package memory is kekbit's in-process backend: channels in this process's
// memory, for tests and for pipelines between goroutines. A Volume holds
// channels by id; a writer goroutine and any number of reader goroutines
// share a channel through it. Nothing is persisted.
package memory

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/kekbit-go/kekbit/ports"
)

// Storage is one handle on a memory region. It implements ports.Storage and
// ports.Addressable. Several handles may share a region: one writes, the
// others read, each from its own goroutine.
type Storage struct {
	bytes   []byte
	words   []uint64
	slots   *slotTable // the region's writer slot locks, shared by its handles
	closed  bool
	release func() // a Volume's writer handle: lets go of the channel at Close
}

var (
	_ ports.Storage            = (*Storage)(nil)
	_ ports.Addressable        = (*Storage)(nil)
	_ ports.Volume             = (*Volume)(nil)
	_ ports.WriteOpener        = (*Volume)(nil)
	_ ports.AbandonedRemover   = (*Volume)(nil)
	_ ports.DeadCreatorClearer = (*Volume)(nil)
	_ ports.SlotLocker         = (*Storage)(nil)
	_ ports.Repairer           = (*Storage)(nil)
	_ ports.Joiner             = (*Volume)(nil)
)

// New returns a storage of size zero bytes.
func New(size int64) *Storage {
	b, w := newRegion(max(size, 0))
	return &Storage{bytes: b, words: w, slots: &slotTable{}}
}

// FromImage returns a storage holding a copy of image, such as the bytes of
// a channel file, so it can be read through the domain.
func FromImage(image []byte) *Storage {
	s := New(int64(len(image)))
	copy(s.bytes, image)
	return s
}

// Share returns another handle on the same region, open even when s is
// closed: a writer and its readers each hold their own.
func (s *Storage) Share() *Storage { return &Storage{bytes: s.bytes, words: s.words, slots: s.slots} }

// Image returns a copy of the storage's bytes.
func (s *Storage) Image() []byte { return slices.Clone(s.bytes) }

// Size returns the region's length.
func (s *Storage) Size() int64 { return int64(len(s.bytes)) }

// Bytes returns the region's bytes.
func (s *Storage) Bytes() []byte { return s.bytes }

// Words returns the region as native-endian words; the last word is
// zero-padded when the size is not a multiple of 8.
func (s *Storage) Words() []uint64 { return s.words }

func (s *Storage) check(off int64, n int) error {
	if s.closed {
		return ports.ErrStorageClosed
	}
	if off < 0 || off > int64(len(s.bytes)) || int64(n) > int64(len(s.bytes))-off {
		return fmt.Errorf("%w: %d bytes at offset %d, size %d", ports.ErrOutOfRange, n, off, len(s.bytes))
	}
	return nil
}

// ReadAt copies from the region into p.
func (s *Storage) ReadAt(p []byte, off int64) (int, error) {
	if err := s.check(off, len(p)); err != nil {
		if s.closed || off < 0 || off > int64(len(s.bytes)) {
			return 0, err
		}
		return copy(p, s.bytes[off:]), err
	}
	return copy(p, s.bytes[off:]), nil
}

// WriteAt copies p into the region.
func (s *Storage) WriteAt(p []byte, off int64) (int, error) {
	if err := s.check(off, len(p)); err != nil {
		return 0, err
	}
	return copy(s.bytes[off:], p), nil
}

func (s *Storage) word(off int64) (*uint64, error) {
	if err := s.check(off, 8); err != nil {
		return nil, err
	}
	if off%8 != 0 {
		return nil, fmt.Errorf("%w: offset %d", ports.ErrUnalignedOffset, off)
	}
	return &s.words[off/8], nil
}

// LoadUint64 atomically loads the little-endian word at off.
func (s *Storage) LoadUint64(off int64) (uint64, error) {
	p, err := s.word(off)
	if err != nil {
		return 0, err
	}
	return toLE(atomic.LoadUint64(p)), nil
}

// StoreUint64 atomically stores v as a little-endian word at off.
func (s *Storage) StoreUint64(off int64, v uint64) error {
	p, err := s.word(off)
	if err != nil {
		return err
	}
	atomic.StoreUint64(p, toLE(v))
	return nil
}

// toLE converts between a native word and a little-endian one (the same
// swap both ways).
func toLE(v uint64) uint64 {
	var b [8]byte
	binary.NativeEndian.PutUint64(b[:], v)
	return binary.LittleEndian.Uint64(b[:])
}

// Flush does nothing: memory has nowhere to flush to.
func (s *Storage) Flush() error {
	if s.closed {
		return ports.ErrStorageClosed
	}
	return nil
}

// Close marks the handle closed. The region lives on for other handles.
// Closing the writer's handle of a Volume's channel lets a new writer open
// it (Volume.OpenForWrite).
func (s *Storage) Close() error {
	if !s.closed && s.release != nil {
		s.release()
	}
	if !s.closed {
		s.slots.releaseAll(s)
	}
	s.closed = true
	return nil
}

// Volume is a set of memory channels by id, safe for concurrent use. It
// implements ports.Volume, ports.WriteOpener and ports.AbandonedRemover;
// its errors are *ports.ChannelError with no Path. A channel's writer is
// the handle Create or OpenForWrite returned, until it is closed: nothing
// here outlives the process, so a writer is gone only when its handle is
// closed.
type Volume struct {
	mu       sync.Mutex
	channels map[uint64]*channel
}

type channel struct {
	bytes  []byte
	words  []uint64
	slots  *slotTable
	ready  bool // init has run
	writer bool // a writer's handle is open
}

// NewVolume returns an empty volume.
func NewVolume() *Volume { return &Volume{channels: make(map[uint64]*channel)} }

// channelError is the error of op on channel id.
func channelError(op string, id uint64, err error) error {
	return &ports.ChannelError{Op: op, ChannelID: id, Err: err}
}

// writerHandle returns a writer's handle on ch, which holds it until
// closed. The caller holds v.mu.
func (v *Volume) writerHandle(ch *channel) *Storage {
	ch.writer = true
	return &Storage{bytes: ch.bytes, words: ch.words, slots: ch.slots, release: func() {
		v.mu.Lock()
		ch.writer = false
		v.mu.Unlock()
	}}
}

// Create makes a zero-filled channel of size bytes and runs init on it
// before readers may open it. The handle it returns is the channel's
// writer until it is closed. It returns ports.ErrChannelExists if the id
// is taken.
func (v *Volume) Create(channelID uint64, size int64, init func(ports.Storage) error) (ports.Storage, error) {
	v.mu.Lock()
	if _, ok := v.channels[channelID]; ok {
		v.mu.Unlock()
		return nil, channelError("create", channelID, ports.ErrChannelExists)
	}
	b, w := newRegion(max(size, 0))
	ch := &channel{bytes: b, words: w, slots: &slotTable{}}
	st := v.writerHandle(ch)
	v.channels[channelID] = ch
	v.mu.Unlock()

	if err := init(st); err != nil {
		v.mu.Lock()
		delete(v.channels, channelID)
		v.mu.Unlock()
		st.Close()
		return nil, channelError("create", channelID, err)
	}
	v.mu.Lock()
	ch.ready = true
	v.mu.Unlock()
	return st, nil
}

// lookup returns channel channelID if it is there and ready, or the error
// of op on it. The caller holds v.mu.
func (v *Volume) lookup(op string, channelID uint64) (*channel, error) {
	ch, ok := v.channels[channelID]
	switch {
	case !ok:
		return nil, channelError(op, channelID, ports.ErrChannelNotFound)
	case !ch.ready:
		return nil, channelError(op, channelID, ports.ErrChannelNotReady)
	}
	return ch, nil
}

// Open returns a new handle on the channel, for reading.
func (v *Volume) Open(channelID uint64) (ports.Storage, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	ch, err := v.lookup("open", channelID)
	if err != nil {
		return nil, err
	}
	return &Storage{bytes: ch.bytes, words: ch.words, slots: ch.slots}, nil
}

// OpenForWrite returns a writer's handle on the channel, for a new writer
// to carry it on (domain.Resume): it holds the channel until it is closed.
// It returns ports.ErrWriterAlive while another writer's handle is open.
func (v *Volume) OpenForWrite(channelID uint64) (ports.Storage, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	ch, err := v.lookup("open for write", channelID)
	if err != nil {
		return nil, err
	}
	if ch.writer || ch.slots.anyHeld() {
		return nil, channelError("open for write", channelID, ports.ErrWriterAlive)
	}
	return v.writerHandle(ch), nil
}

// Remove forgets the channel; open handles keep their memory.
func (v *Volume) Remove(channelID uint64) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.channels[channelID]; !ok {
		return channelError("remove", channelID, ports.ErrChannelNotFound)
	}
	delete(v.channels, channelID)
	return nil
}

// RemoveAbandoned forgets the channel if no writer's handle on it is
// open. It returns ports.ErrWriterAlive while one is, and
// ports.ErrChannelNotReady while the channel's Create runs (its creator is
// in this process, so it is alive).
func (v *Volume) RemoveAbandoned(channelID uint64) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	ch, err := v.lookup("remove abandoned", channelID)
	if err != nil {
		return err
	}
	if ch.writer || ch.slots.anyHeld() {
		return channelError("remove abandoned", channelID, ports.ErrWriterAlive)
	}
	delete(v.channels, channelID)
	return nil
}

// ClearDeadCreator removes nothing: a memory channel's creator is in this
// process, and a Create that fails leaves nothing. It returns
// ports.ErrChannelNotReady while the channel's Create runs, else false.
func (v *Volume) ClearDeadCreator(channelID uint64) (bool, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if ch, ok := v.channels[channelID]; ok && !ch.ready {
		return false, channelError("clear dead creator", channelID, ports.ErrChannelNotReady)
	}
	return false, nil
}

// List returns the ids of the ready channels in increasing order.
func (v *Volume) List() ([]uint64, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	ids := make([]uint64, 0, len(v.channels))
	for id, ch := range v.channels {
		if ch.ready {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}
