package porttest

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"testing"

	"github.com/kekbit-go/kekbit/ports"
)

// storageID is the channel the Storage checks make.
const storageID = 0x5EED

// channel makes a new volume holding one new channel of size bytes and
// returns the volume and the writer's storage, closed when t ends.
func channel(t *testing.T, h Harness, size int64) (ports.Volume, ports.Storage) {
	t.Helper()
	vol := h.NewVolume(t)
	return vol, create(t, vol, storageID, size)
}

// testStorage checks the storages of a channel of size bytes: the writer's
// (from Volume.Create) and a reader's (from Volume.Open), method by method,
// then the optional abilities.
func testStorage(t *testing.T, h Harness, size int64) {
	n := int(size)
	lastWord := (size/8 - 1) * 8 // the last word wholly inside
	// Word offsets outside the storage: crossing its end or past it.
	wordsOutside := []int64{size &^ 7, (size + 7) &^ 7, (size+7)&^7 + 8, 1 << 40, math.MaxInt64 &^ 7, -8, math.MinInt64}
	unaligned := []int64{1, 4, 7, lastWord - 4}

	t.Run("Size", func(t *testing.T) {
		vol, w := channel(t, h, size)
		r := open(t, vol, storageID)
		for _, s := range both(w, r) {
			if s.st.Size() != size {
				t.Errorf("%s Size() = %d, want %d", s.name, s.st.Size(), size)
			}
			if img := image(t, s.st); !bytes.Equal(img, make([]byte, n)) {
				t.Errorf("a new channel's %s storage is not zero-filled (offset %d)", s.name, firstDiff(img, make([]byte, n)))
			}
		}
	})

	t.Run("ReadAt", func(t *testing.T) {
		vol, w := channel(t, h, size)
		want := pattern(n, 5)
		if got, err := w.WriteAt(want, 0); got != n || err != nil {
			t.Fatalf("WriteAt(%d bytes, 0) = %d, %v", n, got, err)
		}
		r := open(t, vol, storageID)
		for _, s := range both(w, r) {
			st := s.st
			if img := image(t, st); !bytes.Equal(img, want) {
				t.Errorf("%s ReadAt(%d bytes, 0) does not return what was written (offset %d)", s.name, n, firstDiff(img, want))
			}
			// In range, ending at the very end included.
			for _, rd := range []struct {
				off int64
				n   int
			}{{0, 1}, {1, 13}, {13, 40}, {size / 2, n / 3}, {size - 5, 5}} {
				p := make([]byte, rd.n)
				if got, err := st.ReadAt(p, rd.off); got != rd.n || err != nil || !bytes.Equal(p, want[rd.off:rd.off+int64(rd.n)]) {
					t.Errorf("%s ReadAt(%d bytes, %d) = %d, %v; want %d, nil; bytes as written: %v",
						s.name, rd.n, rd.off, got, err, rd.n, bytes.Equal(p, want[rd.off:rd.off+int64(rd.n)]))
				}
			}
			// Crossing the end: the bytes that are there, and ErrOutOfRange.
			p := make([]byte, 8)
			if got, err := st.ReadAt(p, size-5); got != 5 || !errors.Is(err, ports.ErrOutOfRange) || !bytes.Equal(p[:5], want[n-5:]) {
				t.Errorf("%s ReadAt(8 bytes, size-5) = %d, %v, % x; want 5, ErrOutOfRange, % x", s.name, got, err, p[:max(0, min(got, 8))], want[n-5:])
			}
			// Past the end or before the start: nothing.
			for _, off := range []int64{size, size + 1, 1 << 40, math.MaxInt64, -1, -8, math.MinInt64} {
				got, err := st.ReadAt(p, off)
				if got != 0 {
					t.Errorf("%s ReadAt(8 bytes, %d) read %d bytes, want 0", s.name, off, got)
				}
				wantErr(t, fmt.Sprintf("%s ReadAt(8 bytes, %d)", s.name, off), err, ports.ErrOutOfRange)
			}
			if got, err := st.ReadAt(p[:0], 0); got != 0 || err != nil {
				t.Errorf("%s ReadAt(0 bytes, 0) = %d, %v; want 0, nil", s.name, got, err)
			}
			unchanged(t, s.name+" ReadAt", st, &want)
		}
	})

	t.Run("WriteAt", func(t *testing.T) {
		_, st := channel(t, h, size)
		model := make([]byte, n)
		// In range, ending at the very end included.
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
			model = img
		}

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
	})

	t.Run("LoadStore", func(t *testing.T) {
		vol, w := channel(t, h, size)
		r := open(t, vol, storageID)
		model := make([]byte, n)

		// Words are little endian, in the same bytes as ReadAt and WriteAt,
		// and what the writer stores the reader loads.
		for _, off := range []int64{0, 8, lastWord} {
			v := 0x0102_0304_0506_0708 + uint64(off)<<8
			if err := w.StoreUint64(off, v); err != nil {
				t.Errorf("StoreUint64(%d, %#x) = %v", off, v, err)
			}
			copy(model[off:], le(v))
			if got, err := w.LoadUint64(off); got != v || err != nil {
				t.Errorf("LoadUint64(%d) = %#x, %v after StoreUint64; want %#x, nil", off, got, err, v)
			}
			if got, err := r.LoadUint64(off); got != v || err != nil {
				t.Errorf("reader's LoadUint64(%d) = %#x, %v after the writer's StoreUint64; want %#x, nil", off, got, err, v)
			}
		}
		if img := image(t, w); !bytes.Equal(img, model) {
			t.Errorf("StoreUint64 did not store little-endian words in place: byte %d differs", firstDiff(img, model))
			model = img
		}
		const v16 = 0x1122_3344_5566_7788
		if _, err := w.WriteAt(le(v16), 16); err != nil {
			t.Errorf("WriteAt(8 bytes, 16) = %v", err)
		}
		copy(model[16:], le(v16))
		for _, s := range both(w, r) {
			if got, err := s.st.LoadUint64(16); got != v16 || err != nil {
				t.Errorf("%s LoadUint64(16) = %#x, %v after WriteAt of the little-endian bytes of %#x", s.name, got, err, uint64(v16))
			}
		}

		// Misplaced word stores store nothing.
		for _, off := range unaligned {
			wantErr(t, fmt.Sprintf("StoreUint64(%d)", off), w.StoreUint64(off, math.MaxUint64), ports.ErrUnalignedOffset)
		}
		for _, off := range wordsOutside {
			wantErr(t, fmt.Sprintf("StoreUint64(%d)", off), w.StoreUint64(off, math.MaxUint64), ports.ErrOutOfRange)
		}
		unchanged(t, "StoreUint64 at a misplaced offset", w, &model)

		// Misplaced word loads fail.
		for _, s := range both(w, r) {
			for _, off := range wordsOutside {
				_, err := s.st.LoadUint64(off)
				wantErr(t, fmt.Sprintf("%s LoadUint64(%d)", s.name, off), err, ports.ErrOutOfRange)
			}
			for _, off := range unaligned {
				_, err := s.st.LoadUint64(off)
				wantErr(t, fmt.Sprintf("%s LoadUint64(%d)", s.name, off), err, ports.ErrUnalignedOffset)
			}
		}
	})

	t.Run("Flush", func(t *testing.T) {
		vol, w := channel(t, h, size)
		model := pattern(n, 7)
		if _, err := w.WriteAt(model, 0); err != nil {
			t.Fatalf("WriteAt(%d bytes, 0) = %v", n, err)
		}
		r := open(t, vol, storageID)
		for _, s := range both(w, r) {
			if err := s.st.Flush(); err != nil {
				t.Errorf("%s Flush() = %v", s.name, err)
			}
			unchanged(t, s.name+" Flush", s.st, &model)
		}
	})

	// closing checks Close twice and every method after it.
	closing := func(t *testing.T, who string, st ports.Storage) {
		t.Helper()
		if err := st.Close(); err != nil {
			t.Errorf("%s Close() = %v", who, err)
		}
		if err := st.Close(); err != nil {
			t.Errorf("%s second Close() = %v, want nil", who, err)
		}
		p := make([]byte, 8)
		_, err := st.ReadAt(p, 0)
		wantErr(t, who+" ReadAt after Close", err, ports.ErrStorageClosed)
		_, err = st.WriteAt(p, 0)
		wantErr(t, who+" WriteAt after Close", err, ports.ErrStorageClosed)
		_, err = st.LoadUint64(0)
		wantErr(t, who+" LoadUint64 after Close", err, ports.ErrStorageClosed)
		wantErr(t, who+" StoreUint64 after Close", st.StoreUint64(0, 1), ports.ErrStorageClosed)
		wantErr(t, who+" Flush after Close", st.Flush(), ports.ErrStorageClosed)
	}

	t.Run("Close", func(t *testing.T) {
		vol, w := channel(t, h, size)
		if err := w.StoreUint64(8, 0xFFFF_FFFF_1111_1111); err != nil {
			t.Errorf("StoreUint64(8) = %v", err)
		}
		r := open(t, vol, storageID)
		r2 := open(t, vol, storageID)

		// Storages are independent: closing one leaves the others working.
		closing(t, "reader's", r)
		if got, err := w.LoadUint64(8); got != 0xFFFF_FFFF_1111_1111 || err != nil {
			t.Errorf("writer's LoadUint64(8) = %#x, %v after a reader closed", got, err)
		}
		if err := w.StoreUint64(16, 42); err != nil {
			t.Errorf("writer's StoreUint64(16) = %v after a reader closed", err)
		}
		if err := w.Flush(); err != nil {
			t.Errorf("writer's Flush() = %v after a reader closed", err)
		}
		if got, err := r2.LoadUint64(16); got != 42 || err != nil {
			t.Errorf("reader's LoadUint64(16) = %d, %v after another reader closed; want 42, nil", got, err)
		}
		closing(t, "writer's", w)
		if got, err := r2.LoadUint64(16); got != 42 || err != nil {
			t.Errorf("reader's LoadUint64(16) = %d, %v after the writer closed; want 42, nil", got, err)
		}
		closing(t, "reader's", r2)
	})

	t.Run("Reader", func(t *testing.T) {
		vol, w := channel(t, h, size)
		first := pattern(n, 1)
		if _, err := w.WriteAt(first, 0); err != nil {
			t.Fatalf("WriteAt(%d bytes, 0) = %v", n, err)
		}
		r := open(t, vol, storageID)
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
	})

	t.Run("ReadOnly", func(t *testing.T) {
		if !h.ReadOnlyOpen {
			t.Skip("Harness.ReadOnlyOpen is false: writes through a reader's storage are not checked")
		}
		vol, w := channel(t, h, size)
		model := pattern(n, 3)
		if _, err := w.WriteAt(model, 0); err != nil {
			t.Fatalf("WriteAt(%d bytes, 0) = %v", n, err)
		}
		r := open(t, vol, storageID)
		got, err := r.WriteAt([]byte{1, 2, 3}, 0)
		if got != 0 {
			t.Errorf("WriteAt on a reader's storage wrote %d bytes", got)
		}
		wantErr(t, "WriteAt on a reader's storage", err, fs.ErrPermission)
		wantErr(t, "StoreUint64 on a reader's storage", r.StoreUint64(0, 1), fs.ErrPermission)
		unchanged(t, "writing through a reader's storage", w, &model)
	})

	t.Run("Addressable", func(t *testing.T) { testAddressable(t, h, size) })
	t.Run("Sizer", func(t *testing.T) { testSizer(t, h, size) })
	t.Run("Liveness", func(t *testing.T) { testLiveness(t, h, size) })
	t.Run("FaultProne", func(t *testing.T) { testFaultProne(t, h, size) })
	t.Run("Pretoucher", func(t *testing.T) { testPretoucher(t, h, size) })
}
