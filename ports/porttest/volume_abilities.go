package porttest

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/kekbit-go/kekbit/ports"
)

// The checks of the optional abilities of a Volume, and of its errors.

// volumeAbility returns vol as the optional ability A, or skips the test
// of a volume that does not have it.
func volumeAbility[A any](t *testing.T, vol ports.Volume) A {
	t.Helper()
	a, ok := vol.(A)
	if !ok {
		t.Skipf("volume does not implement %v", reflect.TypeFor[A]())
	}
	return a
}

func testWriteOpener(t *testing.T, h Harness) {
	const size, id, missing = volumeSize, 0x77, 0x404
	vol := h.NewVolume(t)
	wo := volumeAbility[ports.WriteOpener](t, vol)
	refuse := func(what string, id uint64, want error) {
		t.Helper()
		st, err := wo.OpenForWrite(id)
		if st != nil {
			st.Close()
			t.Errorf("WriteOpener: OpenForWrite %s returned a storage", what)
		}
		wantErr(t, "WriteOpener: OpenForWrite "+what, err, want)
	}
	w := create(t, vol, id, size)
	model := pattern(size, 4)
	if _, err := w.WriteAt(model, 0); err != nil {
		t.Fatalf("WriteAt(%d bytes, 0) = %v", size, err)
	}
	refuse("of a channel whose writer's storage is open", id, ports.ErrWriterAlive)
	if err := w.Close(); err != nil {
		t.Errorf("writer's Close() = %v", err)
	}

	st, err := wo.OpenForWrite(id)
	if err != nil || st == nil {
		t.Fatalf("WriteOpener: OpenForWrite after the writer's storage was closed = %v, %v; want a storage, nil", st, err)
	}
	t.Cleanup(func() { st.Close() })
	if st.Size() != size {
		t.Errorf("WriteOpener: Size() = %d on the storage OpenForWrite returned, want %d", st.Size(), size)
	}
	if img := image(t, st); !bytes.Equal(img, model) {
		t.Errorf("WriteOpener: the storage OpenForWrite returned does not hold the channel's bytes (offset %d)", firstDiff(img, model))
	}
	// It is a writer's storage: it writes, and readers see what it writes.
	r := open(t, vol, id)
	later := pattern(size, 6)
	if _, err := st.WriteAt(later, 0); err != nil {
		t.Errorf("WriteOpener: WriteAt on the storage OpenForWrite returned = %v", err)
	}
	if err := st.StoreUint64(8, 0xFFFF_FFFF_1111_1111); err != nil {
		t.Errorf("WriteOpener: StoreUint64 on the storage OpenForWrite returned = %v", err)
	}
	copy(later[8:], le(0xFFFF_FFFF_1111_1111))
	if img := image(t, st); !bytes.Equal(img, later) {
		t.Errorf("WriteOpener: the storage OpenForWrite returned does not read back what it wrote (offset %d)", firstDiff(img, later))
	}
	if img := image(t, r); !bytes.Equal(img, later) {
		t.Errorf("WriteOpener: a reader does not see what the storage OpenForWrite returned wrote (offset %d)", firstDiff(img, later))
	}
	if l, ok := r.(ports.Liveness); ok {
		alive, err := l.WriterAlive()
		switch {
		case err != nil && !h.NoLiveness:
			t.Errorf("WriteOpener: a reader's WriterAlive() while the storage OpenForWrite returned is open: %v", err)
		case err == nil && !alive:
			t.Errorf("WriteOpener: a reader's WriterAlive() = false while the storage OpenForWrite returned is open, want true")
		}
	}
	refuse("while the storage of an earlier OpenForWrite is open", id, ports.ErrWriterAlive)

	// Its hold ends with its Close.
	if err := st.Close(); err != nil {
		t.Errorf("WriteOpener: Close() of the storage OpenForWrite returned = %v", err)
	}
	if again, err := wo.OpenForWrite(id); err != nil || again == nil {
		t.Errorf("WriteOpener: OpenForWrite after the storage of an earlier OpenForWrite was closed = %v, %v; want a storage, nil", again, err)
	} else {
		again.Close()
	}

	refuse("of a missing channel", missing, ports.ErrChannelNotFound)
	made, err := vol.Create(id+1, size, func(ports.Storage) error {
		refuse("of a channel being created", id+1, ports.ErrChannelNotReady)
		return nil
	})
	if err != nil {
		t.Errorf("Create(%#x): %v", id+1, err)
	} else {
		made.Close()
	}
}

func testAbandonedRemover(t *testing.T, h Harness) {
	const size, id, missing = volumeSize, 0x66, 0x404
	vol := h.NewVolume(t)
	ar := volumeAbility[ports.AbandonedRemover](t, vol)
	w := create(t, vol, id, size)
	if err := w.StoreUint64(0, 5); err != nil {
		t.Errorf("StoreUint64(0) = %v", err)
	}
	wantErr(t, "AbandonedRemover: RemoveAbandoned of a channel whose writer's storage is open", ar.RemoveAbandoned(id), ports.ErrWriterAlive)
	r := open(t, vol, id)
	if got, err := r.LoadUint64(0); got != 5 || err != nil {
		t.Errorf("AbandonedRemover: after a refused RemoveAbandoned, a reader's LoadUint64(0) = %d, %v; want 5, nil", got, err)
	}
	if ids, err := vol.List(); !slices.Equal(ids, []uint64{id}) || err != nil {
		t.Errorf("AbandonedRemover: List() after a refused RemoveAbandoned = %#x, %v; want [%#x]", ids, err, id)
	}

	if err := w.Close(); err != nil {
		t.Errorf("writer's Close() = %v", err)
	}
	if h.RemoveNeedsClosed {
		var ce *ports.ChannelError
		if err := ar.RemoveAbandoned(id); !errors.As(err, &ce) {
			t.Errorf("AbandonedRemover: RemoveAbandoned while a reader's storage is open = %v, want a *ports.ChannelError", err)
		}
		r.Close()
	}
	if err := ar.RemoveAbandoned(id); err != nil {
		t.Errorf("AbandonedRemover: RemoveAbandoned after the writer's storage was closed = %v, want nil", err)
	} else {
		wantErr(t, "AbandonedRemover: Open after RemoveAbandoned", tryOpen(vol, id), ports.ErrChannelNotFound)
		if ids, err := vol.List(); len(ids) != 0 || err != nil {
			t.Errorf("AbandonedRemover: List() after RemoveAbandoned = %#x, %v; want []", ids, err)
		}
		// The id can be used again.
		if img := image(t, create(t, vol, id, size)); !bytes.Equal(img, make([]byte, size)) {
			t.Errorf("AbandonedRemover: a channel created after RemoveAbandoned is not zero-filled (offset %d)", firstDiff(img, make([]byte, size)))
		}
	}
	wantErr(t, "AbandonedRemover: RemoveAbandoned of a missing channel", ar.RemoveAbandoned(missing), ports.ErrChannelNotFound)

	made := createDuring(t, vol, id+1, size, "AbandonedRemover: Open after a refused RemoveAbandoned during init", func() {
		wantErr(t, "AbandonedRemover: RemoveAbandoned of a channel being created", ar.RemoveAbandoned(id+1), ports.ErrChannelNotReady)
	})

	// A writer that carries on a channel holds it as its creator did.
	if wo, ok := vol.(ports.WriteOpener); ok {
		made.Close()
		st, err := wo.OpenForWrite(id + 1)
		if err != nil {
			t.Fatalf("OpenForWrite(%#x) after its writer closed: %v", id+1, err)
		}
		t.Cleanup(func() { st.Close() })
		wantErr(t, "AbandonedRemover: RemoveAbandoned of a channel whose OpenForWrite storage is open", ar.RemoveAbandoned(id+1), ports.ErrWriterAlive)
	}
}

// testChannelError provokes an error of each Volume method, of its
// optional abilities too, and checks that each is a *ports.ChannelError
// naming the channel, and naming its path at most once.
func testChannelError(t *testing.T, h Harness) {
	if h.SkipChannelErrors {
		t.Skip("Harness.SkipChannelErrors is set: the Volume's errors are not checked for *ports.ChannelError")
	}
	const size, live, missing = volumeSize, 0xE1, 0x404
	vol := h.NewVolume(t)
	wo, canWrite := vol.(ports.WriteOpener)
	ar, canRemove := vol.(ports.AbandonedRemover)

	check := func(what string, id uint64, err error) {
		t.Helper()
		if err == nil {
			return // the other checks say when an error is missing
		}
		var ce *ports.ChannelError
		if !errors.As(err, &ce) {
			t.Errorf("ChannelError: %s: error %q (%T) is not a *ports.ChannelError", what, err, err)
			return
		}
		if ce.ChannelID != id {
			t.Errorf("ChannelError: %s: ChannelID %#x, want %#x (error %q)", what, ce.ChannelID, id, err)
		}
		if ce.Op == "" {
			t.Errorf("ChannelError: %s: Op is empty (error %q)", what, err)
		}
		if ce.Path != "" {
			if times := strings.Count(err.Error(), ce.Path); times > 1 {
				t.Errorf("ChannelError: %s: the message names the channel's path %s %d times, want once: %q", what, ce.Path, times, err)
			}
		}
	}
	closed := func(st ports.Storage, err error) error {
		if st != nil {
			st.Close()
		}
		return err
	}

	check("Open of a missing channel", missing, tryOpen(vol, missing))
	check("Remove of a missing channel", missing, vol.Remove(missing))
	create(t, vol, live, size)
	check("Create of an existing channel", live, closed(vol.Create(live, size, noInit)))
	boom := errors.New("porttest: init failed")
	check("Create whose init fails", live+1, closed(vol.Create(live+1, size, func(ports.Storage) error { return boom })))
	made, err := vol.Create(live+2, size, func(ports.Storage) error {
		check("Open of a channel being created", live+2, tryOpen(vol, live+2))
		check("Create of a channel being created", live+2, closed(vol.Create(live+2, size, noInit)))
		if canWrite {
			check("OpenForWrite of a channel being created", live+2, closed(wo.OpenForWrite(live+2)))
		}
		if canRemove {
			check("RemoveAbandoned of a channel being created", live+2, ar.RemoveAbandoned(live+2))
		}
		return nil
	})
	if err != nil {
		t.Errorf("Create(%#x): %v", live+2, err)
	} else {
		made.Close()
	}
	if canWrite {
		check("OpenForWrite of a missing channel", missing, closed(wo.OpenForWrite(missing)))
		check("OpenForWrite of a channel whose writer is alive", live, closed(wo.OpenForWrite(live)))
	}
	if canRemove {
		check("RemoveAbandoned of a missing channel", missing, ar.RemoveAbandoned(missing))
		check("RemoveAbandoned of a channel whose writer is alive", live, ar.RemoveAbandoned(live))
	}
}

// testDeadCreatorClearer checks that ClearDeadCreator removes nothing
// that is not a dead creator's: a ready channel, whether its writer's
// storage is open or closed, stays with its bytes; a missing one is no
// error; one whose creator is in the middle of its init is
// ErrChannelNotReady and is ready once the Create returns.
func testDeadCreatorClearer(t *testing.T, h Harness) {
	const size, id, missing = volumeSize, 0x67, 0x405
	vol := h.NewVolume(t)
	dc := volumeAbility[ports.DeadCreatorClearer](t, vol)
	kept := func(what string) {
		t.Helper()
		if removed, err := dc.ClearDeadCreator(id); removed || err != nil {
			t.Errorf("DeadCreatorClearer: ClearDeadCreator of a ready channel %s = %v, %v; want false, nil", what, removed, err)
		}
		r := open(t, vol, id)
		if got, err := r.LoadUint64(0); got != 5 || err != nil {
			t.Errorf("DeadCreatorClearer: after ClearDeadCreator of a ready channel %s, LoadUint64(0) = %d, %v; want 5, nil", what, got, err)
		}
		r.Close()
	}
	w := create(t, vol, id, size)
	if err := w.StoreUint64(0, 5); err != nil {
		t.Errorf("StoreUint64(0) = %v", err)
	}
	kept("whose writer's storage is open")
	if err := w.Close(); err != nil {
		t.Errorf("writer's Close() = %v", err)
	}
	kept("that its writer let go")

	if removed, err := dc.ClearDeadCreator(missing); removed || err != nil {
		t.Errorf("DeadCreatorClearer: ClearDeadCreator of a missing channel = %v, %v; want false, nil", removed, err)
	}

	createDuring(t, vol, id+1, size, "DeadCreatorClearer: Open after a refused ClearDeadCreator during init", func() {
		removed, err := dc.ClearDeadCreator(id + 1)
		if removed {
			t.Errorf("DeadCreatorClearer: ClearDeadCreator of a channel being created removed it")
		}
		wantErr(t, "DeadCreatorClearer: ClearDeadCreator of a channel being created", err, ports.ErrChannelNotReady)
	})
}

// createDuring creates channel id, running during from its init, and
// checks that the channel opens once the Create has returned (what names
// that check in a failure). The writer's storage is closed at the test's
// end.
func createDuring(t *testing.T, vol ports.Volume, id uint64, size int64, what string, during func()) ports.Storage {
	t.Helper()
	made, err := vol.Create(id, size, func(ports.Storage) error {
		during()
		return nil
	})
	if err != nil {
		t.Fatalf("Create(%#x): %v", id, err)
	}
	t.Cleanup(func() { made.Close() })
	if err := tryOpen(vol, id); err != nil {
		t.Errorf("%s: %v", what, err)
	}
	return made
}
