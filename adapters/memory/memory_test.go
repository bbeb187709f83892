package memory_test

import (
	"errors"
	"testing"

	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/internal/endtoend"
	"github.com/kekbit-go/kekbit/ports"
	"github.com/kekbit-go/kekbit/ports/porttest"
)

func TestConformance(t *testing.T) {
	newVolume := func(*testing.T) ports.Volume { return memory.NewVolume() }
	porttest.Run(t, porttest.Harness{
		NewVolume: newVolume,
	})
	endtoend.Run(t, newVolume)
}

func TestStorageContract(t *testing.T) {
	s := memory.New(100)
	if s.Size() != 100 || len(s.Bytes()) != 100 || len(s.Words()) != 13 {
		t.Fatalf("size %d bytes %d words %d", s.Size(), len(s.Bytes()), len(s.Words()))
	}
	if n, err := s.WriteAt([]byte("hello"), 95); n != 5 || err != nil {
		t.Fatal(n, err)
	}
	if n, err := s.WriteAt([]byte("hello!"), 95); n != 0 || !errors.Is(err, ports.ErrOutOfRange) {
		t.Fatal("write past the end:", n, err)
	}
	p := make([]byte, 8)
	if n, err := s.ReadAt(p, 95); n != 5 || !errors.Is(err, ports.ErrOutOfRange) || string(p[:5]) != "hello" {
		t.Fatal("read past the end:", n, err)
	}
	if _, err := s.ReadAt(p, -1); !errors.Is(err, ports.ErrOutOfRange) {
		t.Fatal(err)
	}
	if err := s.StoreUint64(8, 0x0102030405060708); err != nil {
		t.Fatal(err)
	}
	if s.Bytes()[8] != 0x08 || s.Bytes()[15] != 0x01 {
		t.Fatalf("word not little endian: % x", s.Bytes()[8:16])
	}
	if v, err := s.LoadUint64(8); v != 0x0102030405060708 || err != nil {
		t.Fatal(v, err)
	}
	if _, err := s.LoadUint64(4); !errors.Is(err, ports.ErrUnalignedOffset) {
		t.Fatal("unaligned load:", err)
	}
	if err := s.StoreUint64(96, 1); !errors.Is(err, ports.ErrOutOfRange) {
		t.Fatal("store across the end:", err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	other := s.Share()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal("second close:", err)
	}
	for name, err := range map[string]error{
		"ReadAt":      func() error { _, err := s.ReadAt(p, 0); return err }(),
		"WriteAt":     func() error { _, err := s.WriteAt(p, 0); return err }(),
		"LoadUint64":  func() error { _, err := s.LoadUint64(0); return err }(),
		"StoreUint64": s.StoreUint64(0, 1),
		"Flush":       s.Flush(),
	} {
		if !errors.Is(err, ports.ErrStorageClosed) {
			t.Errorf("%s after close: %v", name, err)
		}
	}
	if v, err := other.LoadUint64(8); v != 0x0102030405060708 || err != nil {
		t.Fatal("shared handle after the other closed:", v, err)
	}
	img := other.Image()
	img[8] = 0
	if other.Bytes()[8] != 0x08 {
		t.Fatal("Image is not a copy")
	}
}

func TestVolume(t *testing.T) {
	v := memory.NewVolume()
	var during error
	st, err := v.Create(5, 64, func(s ports.Storage) error {
		_, during = v.Open(5)
		return s.StoreUint64(0, 42)
	})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(during, ports.ErrChannelNotReady) {
		t.Fatalf("open during create: %v", during)
	}
	if _, err := v.Create(5, 64, func(ports.Storage) error { return nil }); !errors.Is(err, ports.ErrChannelExists) {
		t.Fatalf("second create: %v", err)
	}
	boom := errors.New("boom")
	if _, err := v.Create(6, 64, func(ports.Storage) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("failed init: %v", err)
	}
	if _, err := v.Open(6); !errors.Is(err, ports.ErrChannelNotFound) {
		t.Fatalf("a failed create left a channel: %v", err)
	}
	r, err := v.Open(5)
	if err != nil {
		t.Fatal(err)
	}
	st.StoreUint64(8, 7)
	if w, _ := r.LoadUint64(8); w != 7 {
		t.Fatal("reader does not share the writer's memory")
	}
	v.Create(3, 8, func(ports.Storage) error { return nil })
	if ids, _ := v.List(); len(ids) != 2 || ids[0] != 3 || ids[1] != 5 {
		t.Fatalf("list %v", ids)
	}
	if err := v.Remove(5); err != nil {
		t.Fatal(err)
	}
	if err := v.Remove(5); !errors.Is(err, ports.ErrChannelNotFound) {
		t.Fatal(err)
	}
	if w, _ := r.LoadUint64(0); w != 42 {
		t.Fatal("an open handle lost its memory on Remove")
	}
}

// wantChannelError checks that err is a *ports.ChannelError of op on
// channel id, with no path, wrapping want.
func wantChannelError(t *testing.T, what string, err error, op string, id uint64, want error) {
	t.Helper()
	var ce *ports.ChannelError
	if !errors.Is(err, want) || !errors.As(err, &ce) || ce.Op != op || ce.ChannelID != id || ce.Path != "" {
		t.Errorf("%s: %#v (%v), want a ChannelError of %q on %#x wrapping %v", what, err, err, op, id, want)
	}
}

func TestVolumeErrors(t *testing.T) {
	vol := memory.NewVolume()
	_, err := vol.Open(8)
	wantChannelError(t, "Open of a missing channel", err, "open", 8, ports.ErrChannelNotFound)
	if got, want := err.Error(), "kekbit: open channel 0x8: channel not found"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	st, err := vol.Create(8, 64, func(ports.Storage) error {
		_, err := vol.Open(8)
		wantChannelError(t, "Open during Create", err, "open", 8, ports.ErrChannelNotReady)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, err = vol.Create(8, 64, func(ports.Storage) error { return nil })
	wantChannelError(t, "second Create", err, "create", 8, ports.ErrChannelExists)
	boom := errors.New("boom")
	_, err = vol.Create(9, 64, func(ports.Storage) error { return boom })
	wantChannelError(t, "Create whose init fails", err, "create", 9, boom)
	wantChannelError(t, "Remove of a missing channel", vol.Remove(9), "remove", 9, ports.ErrChannelNotFound)
}

// TestOpenForWrite: the handle Create returns holds the channel until it is
// closed; then OpenForWrite's does.
func TestOpenForWrite(t *testing.T) {
	vol := memory.NewVolume()
	_, err := vol.OpenForWrite(1)
	wantChannelError(t, "OpenForWrite of a missing channel", err, "open for write", 1, ports.ErrChannelNotFound)
	w, err := vol.Create(1, 64, func(st ports.Storage) error {
		_, err := vol.OpenForWrite(1)
		wantChannelError(t, "OpenForWrite during Create", err, "open for write", 1, ports.ErrChannelNotReady)
		return st.StoreUint64(0, 42)
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = vol.OpenForWrite(1)
	wantChannelError(t, "OpenForWrite while Create's handle is open", err, "open for write", 1, ports.ErrWriterAlive)
	r, err := vol.Open(1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.Close() // a reader's Close lets nothing go
	_, err = vol.OpenForWrite(1)
	wantChannelError(t, "OpenForWrite after a reader closed", err, "open for write", 1, ports.ErrWriterAlive)
	w.Close()
	w.Close() // a second Close changes nothing
	w2, err := vol.OpenForWrite(1)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := w2.LoadUint64(0); v != 42 || err != nil {
		t.Fatalf("the new writer's handle reads %d, %v", v, err)
	}
	_, err = vol.OpenForWrite(1)
	wantChannelError(t, "second OpenForWrite", err, "open for write", 1, ports.ErrWriterAlive)
	w2.Close()
	w3, err := vol.OpenForWrite(1)
	if err != nil {
		t.Fatal(err)
	}
	w3.Close()
}

func TestRemoveAbandoned(t *testing.T) {
	vol := memory.NewVolume()
	wantChannelError(t, "RemoveAbandoned of a missing channel", vol.RemoveAbandoned(2), "remove abandoned", 2, ports.ErrChannelNotFound)
	w, err := vol.Create(2, 64, func(ports.Storage) error {
		wantChannelError(t, "RemoveAbandoned during Create", vol.RemoveAbandoned(2), "remove abandoned", 2, ports.ErrChannelNotReady)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantChannelError(t, "RemoveAbandoned while the writer holds it", vol.RemoveAbandoned(2), "remove abandoned", 2, ports.ErrWriterAlive)
	w.Close()
	if err := vol.RemoveAbandoned(2); err != nil {
		t.Fatalf("RemoveAbandoned after the writer closed: %v", err)
	}
	_, err = vol.Open(2)
	wantChannelError(t, "Open after RemoveAbandoned", err, "open", 2, ports.ErrChannelNotFound)
	// The id is free again; the old writer's handle lets go of nothing new.
	w2, err := vol.Create(2, 64, func(ports.Storage) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	wantChannelError(t, "RemoveAbandoned of the new channel", vol.RemoveAbandoned(2), "remove abandoned", 2, ports.ErrWriterAlive)
}
