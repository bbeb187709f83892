//go:build linux

package mmap_test

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/ports"
)

// TestRecycle: a channel's file becomes another channel's, renamed with
// its bytes, only while nobody else has it open or mapped and no writer
// holds it; refused (ErrChannelInUse) with nothing changed otherwise; and
// refused onto an id that exists (ErrChannelExists).
func TestRecycle(t *testing.T) {
	vol := mmap.NewVolume(t.TempDir())
	const size = 1 << 14
	mark := []byte("old bytes")
	st, err := vol.Create(1, size, func(st ports.Storage) error { _, err := st.WriteAt(mark, 2048); return err })
	if err != nil {
		t.Fatal(err)
	}
	nop := func(ports.Storage) error { return nil }
	if _, err := vol.Recycle(1, 2, size, nop); !errors.Is(err, ports.ErrChannelInUse) {
		t.Fatalf("writer holds it: %v, want ErrChannelInUse", err)
	}
	st.Close()
	rd, err := vol.Open(1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vol.Recycle(1, 2, size, nop); !errors.Is(err, ports.ErrChannelInUse) {
		t.Fatalf("a reader maps it: %v, want ErrChannelInUse", err)
	}
	rd.Close()
	if _, err := vol.Recycle(1, 2, size*2, nop); !errors.Is(err, ports.ErrChannelInUse) {
		t.Fatalf("another size: %v, want ErrChannelInUse", err)
	}
	if ids, _ := vol.List(); len(ids) != 1 || ids[0] != 1 {
		t.Fatalf("refused recycles changed the volume: %v", ids)
	}
	if _, err := vol.Create(3, size, nop); err != nil {
		t.Fatal(err)
	}
	if _, err := vol.Recycle(1, 3, size, nop); !errors.Is(err, ports.ErrChannelExists) {
		t.Fatalf("onto an existing channel: %v, want ErrChannelExists", err)
	}
	var seen []byte
	st, err = vol.Recycle(1, 2, size, func(st ports.Storage) error {
		if _, err := vol.Open(2); !errors.Is(err, ports.ErrChannelNotReady) {
			t.Errorf("open during init: %v, want ErrChannelNotReady", err)
		}
		seen = make([]byte, len(mark))
		_, err := st.ReadAt(seen, 2048)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if !bytes.Equal(seen, mark) {
		t.Fatalf("recycled storage holds %q at 2048, want the old %q", seen, mark)
	}
	if _, err := os.Stat(vol.Path(1)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("old channel file: %v, want gone", err)
	}
	if ids, _ := vol.List(); len(ids) != 2 || ids[0] != 2 || ids[1] != 3 {
		t.Fatalf("channels %v, want [2 3]", ids)
	}
	// Through the writer's own storage: it comes back as channel 4's.
	st2, err := vol.RecycleStorage(st, 2, 4, nop)
	if err != nil {
		t.Fatal(err)
	}
	if st2 != st {
		t.Fatal("RecycleStorage made a new storage")
	}
	if ids, _ := vol.List(); len(ids) != 2 || ids[0] != 3 || ids[1] != 4 {
		t.Fatalf("channels %v, want [3 4]", ids)
	}
	if alive, err := st2.(*mmap.Storage).WriterAlive(); err != nil || !alive {
		t.Fatalf("recycled writer: alive %v %v", alive, err)
	}
}
