package porttest

import (
	"bytes"
	"errors"
	"math"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/kekbit-go/kekbit/ports"
)

// volumeSize is the size of the channels the Volume checks make.
const volumeSize = 100

// testVolume checks the volumes from h: Create, Open, Remove, List, then
// the optional abilities and the errors.
func testVolume(t *testing.T, h Harness) {
	const size = volumeSize

	t.Run("Create", func(t *testing.T) {
		vol := h.NewVolume(t)
		calls := 0
		st, err := vol.Create(7, size, func(st ports.Storage) error {
			calls++
			if st.Size() != size {
				t.Errorf("init's storage: Size() = %d, want %d", st.Size(), size)
			}
			if img := image(t, st); !bytes.Equal(img, make([]byte, size)) {
				t.Errorf("init's storage is not zero-filled (offset %d)", firstDiff(img, make([]byte, size)))
			}
			return st.StoreUint64(0, 0xC0FFEE)
		})
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		t.Cleanup(func() { st.Close() })
		if calls != 1 {
			t.Errorf("Create called init %d times, want 1", calls)
		}
		if st.Size() != size {
			t.Errorf("Size() = %d, want %d", st.Size(), size)
		}
		// The storage returned is the one init saw, still open.
		if got, err := st.LoadUint64(0); got != 0xC0FFEE || err != nil {
			t.Errorf("LoadUint64(0) = %#x, %v on Create's storage; init stored 0xc0ffee", got, err)
		}
		r := open(t, vol, 7)
		if got, err := r.LoadUint64(0); got != 0xC0FFEE || err != nil {
			t.Errorf("reader's LoadUint64(0) = %#x, %v; init stored 0xc0ffee", got, err)
		}
		if r.Size() != size {
			t.Errorf("reader's Size() = %d, want %d", r.Size(), size)
		}
	})

	t.Run("CreateExclusive", func(t *testing.T) {
		vol := h.NewVolume(t)
		st, err := vol.Create(7, size, func(st ports.Storage) error { return st.StoreUint64(0, 1) })
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		t.Cleanup(func() { st.Close() })
		called := false
		again, err := vol.Create(7, size, func(st ports.Storage) error {
			called = true
			return st.StoreUint64(0, 2)
		})
		wantErr(t, "second Create of an id", err, ports.ErrChannelExists)
		if again != nil {
			again.Close()
			t.Errorf("second Create of an id returned a storage")
		}
		if called {
			t.Errorf("second Create of an id ran init")
		}
		r := open(t, vol, 7)
		if got, err := r.LoadUint64(0); got != 1 || err != nil {
			t.Errorf("after a refused second Create, LoadUint64(0) = %d, %v; want 1, nil", got, err)
		}
		if ids, err := vol.List(); !slices.Equal(ids, []uint64{7}) || err != nil {
			t.Errorf("List() = %#x, %v; want [0x7]", ids, err)
		}
	})

	t.Run("CreateConcurrent", func(t *testing.T) {
		vol := h.NewVolume(t)
		const creators = 8
		var (
			start sync.WaitGroup
			done  sync.WaitGroup
			mu    sync.Mutex
			won   []ports.Storage
			errs  []error
		)
		start.Add(1)
		for range creators {
			done.Go(func() {
				start.Wait()
				st, err := vol.Create(9, size, noInit)
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					won = append(won, st)
				} else {
					errs = append(errs, err)
				}
			})
		}
		start.Done()
		done.Wait()
		for _, st := range won {
			st.Close()
		}
		if len(won) != 1 {
			t.Errorf("%d of %d concurrent Creates of one id succeeded, want 1", len(won), creators)
		}
		for _, err := range errs {
			wantErr(t, "concurrent Create of one id", err, ports.ErrChannelExists)
		}
	})

	t.Run("CreateFailedInit", func(t *testing.T) {
		vol := h.NewVolume(t)
		boom := errors.New("porttest: init failed")
		st, err := vol.Create(6, size, func(st ports.Storage) error {
			st.WriteAt(pattern(size, 3), 0)
			return boom
		})
		wantErr(t, "Create whose init fails", err, boom)
		if st != nil {
			st.Close()
			t.Errorf("Create whose init fails returned a storage")
		}
		r, err := vol.Open(6)
		if r != nil {
			r.Close()
		}
		wantErr(t, "Open after a failed Create", err, ports.ErrChannelNotFound)
		if ids, err := vol.List(); len(ids) != 0 || err != nil {
			t.Errorf("List() after a failed Create = %#x, %v; want []", ids, err)
		}
		wantErr(t, "Remove after a failed Create", vol.Remove(6), ports.ErrChannelNotFound)
		st, err = vol.Create(6, size, noInit)
		if err != nil {
			t.Fatalf("Create after a failed Create: %v", err)
		}
		t.Cleanup(func() { st.Close() })
		if img := image(t, st); !bytes.Equal(img, make([]byte, size)) {
			t.Errorf("a channel created after a failed Create is not zero-filled (offset %d)", firstDiff(img, make([]byte, size)))
		}
	})

	t.Run("NotReadyDuringInit", func(t *testing.T) {
		vol := h.NewVolume(t)
		create(t, vol, 3, size)
		st, err := vol.Create(5, size, func(ports.Storage) error {
			r, err := vol.Open(5)
			if r != nil {
				r.Close()
			}
			wantErr(t, "Open during init", err, ports.ErrChannelNotReady)
			if ids, err := vol.List(); !slices.Equal(ids, []uint64{3}) || err != nil {
				t.Errorf("List() during init of 0x5 = %#x, %v; want [0x3]", ids, err)
			}
			other, err := vol.Create(5, size, noInit)
			if other != nil {
				other.Close()
			}
			wantErr(t, "Create during init", err, ports.ErrChannelExists)
			return nil
		})
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		st.Close()
		open(t, vol, 5)
		if ids, err := vol.List(); !slices.Equal(ids, []uint64{3, 5}) || err != nil {
			t.Errorf("List() = %#x, %v; want [0x3 0x5]", ids, err)
		}
	})

	t.Run("Open", func(t *testing.T) {
		vol := h.NewVolume(t)
		missing := func(what string) {
			t.Helper()
			st, err := vol.Open(404)
			if st != nil {
				st.Close()
				t.Errorf("Open of a missing channel (%s) returned a storage", what)
			}
			wantErr(t, "Open of a missing channel ("+what+")", err, ports.ErrChannelNotFound)
		}
		missing("empty volume")
		create(t, vol, 405, size)
		missing("other channels exist")
	})

	t.Run("Remove", func(t *testing.T) {
		vol := h.NewVolume(t)
		w := create(t, vol, 8, size)
		create(t, vol, 2, size)
		r := open(t, vol, 8)
		if h.RemoveNeedsClosed {
			var ce *ports.ChannelError
			if err := vol.Remove(8); !errors.As(err, &ce) {
				t.Errorf("Remove of a channel with open storages = %v, want a *ports.ChannelError", err)
			}
			if got, err := r.LoadUint64(0); err != nil || got != 0 {
				t.Errorf("reader's LoadUint64 after a refused Remove = %d, %v; want 0, nil", got, err)
			}
			w.Close()
			r.Close()
		}
		if err := vol.Remove(8); err != nil {
			t.Fatalf("Remove: %v", err)
		}
		st, err := vol.Open(8)
		if st != nil {
			st.Close()
		}
		wantErr(t, "Open after Remove", err, ports.ErrChannelNotFound)
		if ids, err := vol.List(); !slices.Equal(ids, []uint64{2}) || err != nil {
			t.Errorf("List() after Remove = %#x, %v; want [0x2]", ids, err)
		}
		wantErr(t, "second Remove", vol.Remove(8), ports.ErrChannelNotFound)
		wantErr(t, "Remove of a missing channel", vol.Remove(404), ports.ErrChannelNotFound)

		// Storages open at Remove keep working where the backend allows
		// it; files on Windows do not.
		if runtime.GOOS != "windows" && !h.RemoveNeedsClosed {
			if err := w.StoreUint64(0, 77); err != nil {
				t.Errorf("writer's StoreUint64 after Remove = %v", err)
			}
			if got, err := r.LoadUint64(0); got != 77 || err != nil {
				t.Errorf("reader's LoadUint64 after Remove = %d, %v; want 77, nil", got, err)
			}
		}

		// The id is free again, for a new, zero-filled channel.
		fresh := create(t, vol, 8, size)
		if img := image(t, fresh); !bytes.Equal(img, make([]byte, size)) {
			t.Errorf("a channel created after Remove is not zero-filled (offset %d)", firstDiff(img, make([]byte, size)))
		}
		if runtime.GOOS != "windows" && !h.RemoveNeedsClosed {
			w.StoreUint64(8, 78)
			if got, err := fresh.LoadUint64(8); got != 0 || err != nil {
				t.Errorf("the removed channel's writer writes into the new channel: LoadUint64(8) = %d, %v", got, err)
			}
		}
	})

	t.Run("List", func(t *testing.T) {
		vol := h.NewVolume(t)
		if ids, err := vol.List(); len(ids) != 0 || err != nil {
			t.Errorf("List() on an empty volume = %#x, %v; want []", ids, err)
		}
		ids := []uint64{5, math.MaxUint64, 0, 1 << 32, 0xDEAD_BEEF, 0xFFFF_FFFF, 0xAAAA_BBBB_CCCC_DDDD, 3}
		for i, id := range ids {
			st := create(t, vol, id, size)
			if err := st.StoreUint64(0, uint64(i)); err != nil {
				t.Errorf("StoreUint64 on channel %#x: %v", id, err)
			}
		}
		want := slices.Sorted(slices.Values(ids))
		if got, err := vol.List(); !slices.Equal(got, want) || err != nil {
			t.Errorf("List() = %#x, %v; want %#x", got, err, want)
		}
		// Each id names its own channel.
		for i, id := range ids {
			if got, err := open(t, vol, id).LoadUint64(0); got != uint64(i) || err != nil {
				t.Errorf("channel %#x: LoadUint64(0) = %d, %v; want %d", id, got, err, i)
			}
		}
	})

	t.Run("WriteOpener", func(t *testing.T) { testWriteOpener(t, h) })
	t.Run("AbandonedRemover", func(t *testing.T) { testAbandonedRemover(t, h) })
	t.Run("DeadCreatorClearer", func(t *testing.T) { testDeadCreatorClearer(t, h) })
	t.Run("ChannelError", func(t *testing.T) { testChannelError(t, h) })
}
