package porttest

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/ports"
)

// Harness says how to make what the checks run on.
type Harness struct {
	// NewVolume returns a new, empty volume for the test t; it is called
	// once per subtest. Required.
	NewVolume func(t *testing.T) ports.Volume
	// ReadOnlyOpen says that the storages Volume.Open returns refuse
	// WriteAt and StoreUint64 with an error matching fs.ErrPermission, and
	// change nothing (the mmap and file backends). When false, writes
	// through them are not checked at all.
	ReadOnlyOpen bool
}

// Sizes are the storage sizes the Storage checks run with: one that is not
// a multiple of 8, and that of the smallest channel the domain makes.
var Sizes = []int64{100, domain.FileSize(domain.MinCapacity)}

// Run checks h's volumes and their storages against every contract of
// package ports, each group in a subtest of t: Storage (writer's and
// reader's, for each of Sizes), Volume, and Domain (an end-to-end run).
func Run(t *testing.T, h Harness) {
	if h.NewVolume == nil {
		t.Fatal("porttest: Harness.NewVolume is nil")
	}
	for _, size := range Sizes {
		t.Run(fmt.Sprintf("Storage/size=%d", size), func(t *testing.T) { testStorage(t, h, size) })
	}
	t.Run("Volume", func(t *testing.T) { testVolume(t, h) })
	t.Run("Domain", func(t *testing.T) { testDomain(t, h) })
}

// noInit is an init for Volume.Create that does nothing.
func noInit(ports.Storage) error { return nil }

// create makes channel id of size bytes in vol and returns its storage,
// closed when t ends. It stops t if Create fails.
func create(t *testing.T, vol ports.Volume, id uint64, size int64) ports.Storage {
	t.Helper()
	st, err := vol.Create(id, size, noInit)
	if err != nil {
		t.Fatalf("Create(%#x, %d): %v", id, size, err)
	}
	if st == nil {
		t.Fatalf("Create(%#x, %d) returned a nil storage and no error", id, size)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// open opens channel id of vol, closed when t ends. It stops t if Open
// fails.
func open(t *testing.T, vol ports.Volume, id uint64) ports.Storage {
	t.Helper()
	st, err := vol.Open(id)
	if err != nil {
		t.Fatalf("Open(%#x): %v", id, err)
	}
	if st == nil {
		t.Fatalf("Open(%#x) returned a nil storage and no error", id)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// image returns every byte of st, read with one ReadAt.
func image(t *testing.T, st ports.Storage) []byte {
	t.Helper()
	b := make([]byte, st.Size())
	if n, err := st.ReadAt(b, 0); n != len(b) || err != nil {
		t.Errorf("ReadAt(%d bytes, 0) = %d, %v; want %d, nil", len(b), n, err, len(b))
	}
	return b
}

// pattern returns n bytes, none zero, that differ from one call to the
// next.
func pattern(n int, seed byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7) + seed | 1
	}
	return p
}

// wantErr reports an error unless err matches want.
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}

// unchanged reports an error if st's bytes are not *model, then makes
// *model st's bytes, so that later checks report only later changes.
func unchanged(t *testing.T, what string, st ports.Storage, model *[]byte) {
	t.Helper()
	if after := image(t, st); !bytes.Equal(after, *model) {
		t.Errorf("%s changed the storage (first difference at offset %d)", what, firstDiff(*model, after))
		*model = after
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// le returns v's little-endian bytes.
func le(v uint64) []byte {
	b := make([]byte, 8)
	for i := range b {
		b[i] = byte(v >> (8 * i))
	}
	return b
}

func testStorage(t *testing.T, h Harness, size int64) {
	const id = 0x5EED
	n := int(size)
	lastWord := (size/8 - 1) * 8 // the last word wholly inside
	// Word offsets outside the storage: crossing its end or past it.
	wordsOutside := []int64{size &^ 7, (size + 7) &^ 7, (size+7)&^7 + 8, 1 << 40, math.MaxInt64 &^ 7, -8, math.MinInt64}
	unaligned := []int64{1, 4, 7, lastWord - 4}

	// ranges checks the read-side contracts shared by writers and readers.
	ranges := func(t *testing.T, st ports.Storage, want []byte) {
		t.Helper()
		if st.Size() != size {
			t.Errorf("Size() = %d, want %d", st.Size(), size)
		}
		p := make([]byte, 8)
		if got, err := st.ReadAt(p, size-5); got != 5 || !errors.Is(err, ports.ErrOutOfRange) || !bytes.Equal(p[:5], want[n-5:]) {
			t.Errorf("ReadAt(8 bytes, size-5) = %d, %v, % x; want 5, ErrOutOfRange, % x", got, err, p[:got], want[n-5:])
		}
		for _, off := range []int64{size, size + 1, 1 << 40, math.MaxInt64, -1, -8, math.MinInt64} {
			got, err := st.ReadAt(p, off)
			if got != 0 {
				t.Errorf("ReadAt(8 bytes, %d) read %d bytes, want 0", off, got)
			}
			wantErr(t, fmt.Sprintf("ReadAt(8 bytes, %d)", off), err, ports.ErrOutOfRange)
		}
		if got, err := st.ReadAt(p[:0], 0); got != 0 || err != nil {
			t.Errorf("ReadAt(0 bytes, 0) = %d, %v; want 0, nil", got, err)
		}
		for _, off := range wordsOutside {
			_, err := st.LoadUint64(off)
			wantErr(t, fmt.Sprintf("LoadUint64(%d)", off), err, ports.ErrOutOfRange)
		}
		for _, off := range unaligned {
			_, err := st.LoadUint64(off)
			wantErr(t, fmt.Sprintf("LoadUint64(%d)", off), err, ports.ErrUnalignedOffset)
		}
	}

	// closing checks Close twice and every method after it.
	closing := func(t *testing.T, st ports.Storage) {
		t.Helper()
		if err := st.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
		if err := st.Close(); err != nil {
			t.Errorf("second Close() = %v, want nil", err)
		}
		p := make([]byte, 8)
		_, err := st.ReadAt(p, 0)
		wantErr(t, "ReadAt after Close", err, ports.ErrStorageClosed)
		_, err = st.WriteAt(p, 0)
		wantErr(t, "WriteAt after Close", err, ports.ErrStorageClosed)
		_, err = st.LoadUint64(0)
		wantErr(t, "LoadUint64 after Close", err, ports.ErrStorageClosed)
		wantErr(t, "StoreUint64 after Close", st.StoreUint64(0, 1), ports.ErrStorageClosed)
		wantErr(t, "Flush after Close", st.Flush(), ports.ErrStorageClosed)
	}

	t.Run("Writer", func(t *testing.T) {
		vol := h.NewVolume(t)
		st := create(t, vol, id, size)
		model := make([]byte, n)
		if img := image(t, st); !bytes.Equal(img, model) {
			t.Errorf("a new storage is not zero-filled (offset %d)", firstDiff(img, model))
		}
		ranges(t, st, model)

		// WriteAt and ReadAt in range, ending at the very end included.
		for i, w := range []struct {
			off int64
			n   int
		}{{0, 3}, {1, 13}, {13, 40}, {size - 5, 5}, {size / 2, n / 3}, {0, 0}} {
			p := pattern(w.n, byte(i))
			if got, err := st.WriteAt(p, w.off); got != w.n || err != nil {
				t.Errorf("WriteAt(%d bytes, %d) = %d, %v; want %d, nil", w.n, w.off, got, err, w.n)
			}
			copy(model[w.off:], p)
			q := make([]byte, w.n)
			if got, err := st.ReadAt(q, w.off); got != w.n || err != nil || !bytes.Equal(q, p) {
				t.Errorf("ReadAt(%d bytes, %d) = %d, %v after writing them; bytes equal: %v", w.n, w.off, got, err, bytes.Equal(q, p))
			}
		}
		if img := image(t, st); !bytes.Equal(img, model) {
			t.Errorf("after the writes, byte %d differs from what was written", firstDiff(img, model))
		}
		ranges(t, st, model)

		// Writes that reach outside write nothing.
		for _, w := range []struct {
			off int64
			n   int
		}{{size - 3, 5}, {size - 1, 2}, {size, 1}, {size + 1, 1}, {1 << 40, 8}, {math.MaxInt64, 8}, {-1, 1}, {-1, 8}, {math.MinInt64, 8}} {
			got, err := st.WriteAt(pattern(w.n, 0xAA), w.off)
			if got != 0 {
				t.Errorf("WriteAt(%d bytes, %d) wrote %d bytes, want 0", w.n, w.off, got)
			}
			wantErr(t, fmt.Sprintf("WriteAt(%d bytes, %d)", w.n, w.off), err, ports.ErrOutOfRange)
		}
		unchanged(t, "WriteAt outside the storage", st, &model)

		// Words are little endian, in the same bytes as ReadAt and WriteAt.
		for _, off := range []int64{0, 8, lastWord} {
			v := 0x0102_0304_0506_0708 + uint64(off)<<8
			if err := st.StoreUint64(off, v); err != nil {
				t.Errorf("StoreUint64(%d, %#x) = %v", off, v, err)
			}
			copy(model[off:], le(v))
			if got, err := st.LoadUint64(off); got != v || err != nil {
				t.Errorf("LoadUint64(%d) = %#x, %v after StoreUint64; want %#x, nil", off, got, err, v)
			}
		}
		if img := image(t, st); !bytes.Equal(img, model) {
			t.Errorf("StoreUint64 did not store little-endian words in place: byte %d differs", firstDiff(img, model))
		}
		if _, err := st.WriteAt(le(0x1122_3344_5566_7788), 16); err != nil {
			t.Errorf("WriteAt(8 bytes, 16) = %v", err)
		}
		copy(model[16:], le(0x1122_3344_5566_7788))
		if got, err := st.LoadUint64(16); got != 0x1122_3344_5566_7788 || err != nil {
			t.Errorf("LoadUint64(16) = %#x, %v after WriteAt of the little-endian bytes of 0x1122334455667788", got, err)
		}

		// Misplaced word stores store nothing.
		for _, off := range unaligned {
			wantErr(t, fmt.Sprintf("StoreUint64(%d)", off), st.StoreUint64(off, math.MaxUint64), ports.ErrUnalignedOffset)
		}
		for _, off := range wordsOutside {
			wantErr(t, fmt.Sprintf("StoreUint64(%d)", off), st.StoreUint64(off, math.MaxUint64), ports.ErrOutOfRange)
		}
		unchanged(t, "StoreUint64 at a misplaced offset", st, &model)
		ranges(t, st, model)

		if err := st.Flush(); err != nil {
			t.Errorf("Flush() = %v", err)
		}
		unchanged(t, "Flush", st, &model)
		closing(t, st)
	})

	t.Run("Reader", func(t *testing.T) {
		vol := h.NewVolume(t)
		w := create(t, vol, id, size)
		first := pattern(n, 1)
		if _, err := w.WriteAt(first, 0); err != nil {
			t.Fatalf("WriteAt(%d bytes, 0) = %v", n, err)
		}
		r := open(t, vol, id)
		if img := image(t, r); !bytes.Equal(img, first) {
			t.Errorf("a reader opened after the writer wrote does not see its bytes (offset %d)", firstDiff(img, first))
		}

		// What the writer stores later, the reader sees.
		later := pattern(n, 2)
		if _, err := w.WriteAt(later, 0); err != nil {
			t.Errorf("WriteAt(%d bytes, 0) = %v", n, err)
		}
		if err := w.StoreUint64(8, 0xFFFF_FFFF_1111_1111); err != nil {
			t.Errorf("StoreUint64(8) = %v", err)
		}
		copy(later[8:], le(0xFFFF_FFFF_1111_1111))
		if got, err := r.LoadUint64(8); got != 0xFFFF_FFFF_1111_1111 || err != nil {
			t.Errorf("reader's LoadUint64(8) = %#x, %v after the writer's StoreUint64; want 0xffffffff11111111, nil", got, err)
		}
		if img := image(t, r); !bytes.Equal(img, later) {
			t.Errorf("the reader does not see what the writer wrote after it opened (offset %d)", firstDiff(img, later))
		}
		ranges(t, r, later)

		if h.ReadOnlyOpen {
			got, err := r.WriteAt([]byte{1, 2, 3}, 0)
			if got != 0 {
				t.Errorf("WriteAt on a reader's storage wrote %d bytes", got)
			}
			wantErr(t, "WriteAt on a reader's storage", err, fs.ErrPermission)
			wantErr(t, "StoreUint64 on a reader's storage", r.StoreUint64(0, 1), fs.ErrPermission)
			unchanged(t, "writing through a reader's storage", w, &later)
		}
		if err := r.Flush(); err != nil {
			t.Errorf("reader's Flush() = %v", err)
		}

		// Storages are independent: closing one leaves the others working.
		r2 := open(t, vol, id)
		closing(t, r)
		if got, err := w.LoadUint64(8); got != 0xFFFF_FFFF_1111_1111 || err != nil {
			t.Errorf("writer's LoadUint64(8) = %#x, %v after a reader closed", got, err)
		}
		if err := w.StoreUint64(16, 42); err != nil {
			t.Errorf("writer's StoreUint64(16) = %v after a reader closed", err)
		}
		if err := w.Flush(); err != nil {
			t.Errorf("writer's Flush() = %v", err)
		}
		if err := w.Close(); err != nil {
			t.Errorf("writer's Close() = %v", err)
		}
		if got, err := r2.LoadUint64(16); got != 42 || err != nil {
			t.Errorf("reader's LoadUint64(16) = %d, %v after the writer closed; want 42, nil", got, err)
		}
		closing(t, r2)
	})
}

func testVolume(t *testing.T, h Harness) {
	const size = 100

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

	t.Run("OpenMissing", func(t *testing.T) {
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

	t.Run("FailedInit", func(t *testing.T) {
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

	t.Run("Remove", func(t *testing.T) {
		vol := h.NewVolume(t)
		w := create(t, vol, 8, size)
		create(t, vol, 2, size)
		r := open(t, vol, 8)
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
		if runtime.GOOS != "windows" {
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
		if runtime.GOOS != "windows" {
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
}

// testDomain runs the domain on the volume: create a channel, write a few
// records, open it, read them back, close it.
func testDomain(t *testing.T, h Harness) {
	vol := h.NewVolume(t)
	const id = 0xC2
	hdr, err := domain.NewHeader(domain.Hints{
		WriterID: 1850, ChannelID: id, Capacity: domain.MinCapacity, MaxMsgLen: 100,
		Timeout: 3600, TickUnit: domain.Secs,
	})
	if err != nil {
		t.Fatal(err)
	}
	w, err := domain.Create(vol, hdr, codecs.Raw{})
	if err != nil {
		t.Fatalf("domain.Create: %v", err)
	}
	t.Cleanup(func() { w.Close() })
	if _, err := domain.Create(vol, hdr, codecs.Raw{}); !errors.Is(err, ports.ErrChannelExists) {
		t.Errorf("second domain.Create: %v, want ErrChannelExists", err)
	}
	live, err := domain.Open(vol, id)
	if err != nil {
		t.Fatalf("domain.Open: %v", err)
	}
	t.Cleanup(func() { live.Close() })
	if live.Header() != hdr {
		t.Errorf("reader's header %+v, writer's %+v", live.Header(), hdr)
	}

	type record struct {
		Pos     uint64
		Payload string
	}
	read := func(r *domain.Reader) ([]record, error) {
		var got []record
		_, err := r.Read(func(rec domain.Record) error {
			pos, p := rec.Position, rec.Payload
			got = append(got, record{pos, string(p)})
			return nil
		}, 0)
		return got, err
	}
	if got, err := read(live); len(got) != 0 || !errors.Is(err, domain.ErrNothingYet) {
		t.Errorf("reading a new channel: %v, %v; want nothing, ErrNothingYet", got, err)
	}

	// The first heartbeat takes position 0.
	want := []record{{8, "a"}, {24, "hello, world"}, {48, strings.Repeat("0123456789", 10)}, {168, "last"}}
	sizes := []int{16, 24, 112, 16}
	for i, rec := range want {
		if i == 3 {
			if n, err := w.Heartbeat(); n != 8 || err != nil {
				t.Errorf("Heartbeat() = %d, %v; want 8, nil", n, err)
			}
		}
		if n, err := w.Write([]byte(rec.Payload)); n != sizes[i] || err != nil {
			t.Errorf("Write(%d bytes) = %d, %v; want %d, nil", len(rec.Payload), n, err, sizes[i])
		}
	}
	if got, err := read(live); !slices.Equal(got, want) || !errors.Is(err, domain.ErrNothingYet) {
		t.Errorf("following reader read %v, %v; want %v, ErrNothingYet", got, err, want)
	}
	replay, err := domain.Open(vol, id)
	if err != nil {
		t.Fatalf("second domain.Open: %v", err)
	}
	t.Cleanup(func() { replay.Close() })
	if got, err := read(replay); !slices.Equal(got, want) || !errors.Is(err, domain.ErrNothingYet) {
		t.Errorf("new reader read %v, %v; want %v, ErrNothingYet", got, err, want)
	}

	if err := w.Close(); err != nil {
		t.Errorf("writer's Close() = %v", err)
	}
	if got, err := read(live); len(got) != 0 || !errors.Is(err, domain.ErrClosed) {
		t.Errorf("after the writer closed, the reader read %v, %v; want nothing, ErrClosed", got, err)
	}
	if err := replay.MoveTo(0); err != nil {
		t.Errorf("MoveTo(0) = %v", err)
	}
	if got, err := read(replay); !slices.Equal(got, want) || !errors.Is(err, domain.ErrClosed) {
		t.Errorf("replay after close read %v, %v; want %v, ErrClosed", got, err, want)
	}
	if live.Position() != 184 {
		t.Errorf("reader at position %d at the end, want 184", live.Position())
	}
	for _, r := range []*domain.Reader{live, replay} {
		if err := r.Close(); err != nil {
			t.Errorf("reader's Close() = %v", err)
		}
	}
}
