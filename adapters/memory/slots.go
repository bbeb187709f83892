package memory

import (
	"fmt"
	"sync"

	"github.com/kekbit-go/kekbit/ports"
)

// maxSlots is how many slot locks a region has: more than a multi-writer
// channel's slot table holds.
const maxSlots = 64

// slotTable is a region's writer slot locks: which handle holds each. In
// memory a writer lives as long as its handle is open; closing the
// handle with a claim open is how a writer "dies" here.
type slotTable struct {
	mu   sync.Mutex
	held [maxSlots]*Storage
}

func (t *slotTable) releaseAll(s *Storage) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, h := range t.held {
		if h == s {
			t.held[i] = nil
		}
	}
}

func (t *slotTable) anyHeld() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, h := range t.held {
		if h != nil {
			return true
		}
	}
	return false
}

func slotError(i int) error {
	if i < 0 || i >= maxSlots {
		return fmt.Errorf("%w: slot %d of %d", ports.ErrOutOfRange, i, maxSlots)
	}
	return nil
}

// LockSlot takes slot i's lock for this handle; ports.ErrWriterAlive if
// another open handle holds it.
func (s *Storage) LockSlot(i int) error {
	if s.closed {
		return ports.ErrStorageClosed
	}
	if err := slotError(i); err != nil {
		return err
	}
	s.slots.mu.Lock()
	defer s.slots.mu.Unlock()
	if h := s.slots.held[i]; h != nil && h != s {
		return fmt.Errorf("%w: slot %d", ports.ErrWriterAlive, i)
	}
	s.slots.held[i] = s
	return nil
}

// UnlockSlot releases slot i's lock if this handle holds it.
func (s *Storage) UnlockSlot(i int) error {
	if err := slotError(i); err != nil {
		return err
	}
	s.slots.mu.Lock()
	defer s.slots.mu.Unlock()
	if s.slots.held[i] == s {
		s.slots.held[i] = nil
	}
	return nil
}

// SlotHeld reports whether another open handle holds slot i's lock.
func (s *Storage) SlotHeld(i int) (bool, error) {
	if s.closed {
		return false, ports.ErrStorageClosed
	}
	if err := slotError(i); err != nil {
		return false, err
	}
	s.slots.mu.Lock()
	defer s.slots.mu.Unlock()
	h := s.slots.held[i]
	return h != nil && h != s, nil
}

// OpenRepair returns another handle on the region (memory is always
// writable), holding no slot.
func (s *Storage) OpenRepair() (ports.Storage, error) {
	if s.closed {
		return nil, ports.ErrStorageClosed
	}
	return s.Share(), nil
}

// OpenToJoin returns a new handle on the multi-writer channel for one
// more writer, which takes a slot's lock (LockSlot).
func (v *Volume) OpenToJoin(channelID uint64) (ports.Storage, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	ch, err := v.lookup("open to join", channelID)
	if err != nil {
		return nil, err
	}
	return &Storage{bytes: ch.bytes, words: ch.words, slots: ch.slots}, nil
}
