//go:build linux

package mmap_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/ports"
)

// TestSlotLocks: the slot locks lie where FORMAT.md says (the domain's
// slot table); a slot held by one writer's storage is refused to
// another's and seen by a reader's, and a creator that takes its slot
// keeps no lock on the rest of the file (others can join, a reader still
// sees a writer alive); a reader's storage cannot take one.
func TestSlotLocks(t *testing.T) {
	if mmap.SlotLocks != domain.Slots {
		t.Fatalf("%d slot locks, the domain has %d slots", mmap.SlotLocks, domain.Slots)
	}
	for i := range domain.Slots {
		if got, want := mmap.SlotLockOffset(i), domain.SlotLockOffset(i); got != want {
			t.Errorf("slot %d: lock byte %d, the domain's slot is at %d", i, got, want)
		}
	}
	vol := mmap.NewVolume(filepath.Join(t.TempDir(), "root"))
	h, err := domain.NewHeader(domain.Hints{ChannelID: 5, Capacity: 1 << 16, Timeout: 1000, TickUnit: domain.Millis, MultiWriter: true})
	if err != nil {
		t.Fatal(err)
	}
	w, err := domain.Create(vol, h, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	st, err := vol.OpenToJoin(5)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l := st.(ports.SlotLocker)
	if err := l.LockSlot(w.Slot()); !errors.Is(err, ports.ErrWriterAlive) {
		t.Errorf("a second storage takes the creator's slot: %v", err)
	}
	free := (w.Slot() + 1) % domain.Slots
	if err := l.LockSlot(free); err != nil {
		t.Fatalf("a free slot: %v", err)
	}
	r, err := vol.Open(5)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rl := r.(ports.SlotLocker)
	for i, want := range map[int]bool{w.Slot(): true, free: true, (free + 1) % domain.Slots: false} {
		if held, err := rl.SlotHeld(i); err != nil || held != want {
			t.Errorf("reader: slot %d held %v (%v), want %v", i, held, err, want)
		}
	}
	if alive, err := r.(ports.Liveness).WriterAlive(); err != nil || !alive {
		t.Errorf("reader: writer alive %v (%v) with two slots held", alive, err)
	}
	if err := rl.LockSlot((free + 1) % domain.Slots); err == nil {
		t.Error("a reader's storage took a slot lock")
	}
	if err := l.UnlockSlot(free); err != nil {
		t.Fatal(err)
	}
	if held, _ := rl.SlotHeld(free); held {
		t.Error("slot still held after UnlockSlot")
	}
}
