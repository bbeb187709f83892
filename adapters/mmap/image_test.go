package mmap_test

import (
	"bytes"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/internal/channeltest"
	"github.com/kekbit-go/kekbit/internal/testdir"
	"github.com/kekbit-go/kekbit/ports"
)

// TestSameBytesAsMemory: a channel written through this backend, on
// whatever system the test runs (Linux, macOS, FreeBSD, Windows), is byte
// for byte the image the memory backend holds after the same writes with
// the same clock: the file on disk is the format and nothing of the
// platform. With TestVectorsFromCrateLayout, which reads the crate's files
// on every platform, it shows that a channel written on one platform reads
// on another.
func TestSameBytesAsMemory(t *testing.T) {
	const id = 0x0000_1234_0000_5678
	h := channeltest.Header(t, id, 64<<10)
	clock := time.Unix(1_700_000_000, 0)
	now := func() time.Time { clock = clock.Add(time.Millisecond); return clock }
	write := func(vol ports.Volume) {
		t.Helper()
		clock = time.Unix(1_700_000_000, 0)
		w, err := domain.Create(vol, h, codecs.Raw{}, domain.WithWriteClock(now))
		if err != nil {
			t.Fatal(err)
		}
		for i := range 300 {
			if _, err := w.Write(bytes.Repeat([]byte{byte(i)}, i%97+1)); err != nil {
				t.Fatal(err)
			}
			if i%50 == 0 {
				if _, err := w.Heartbeat(); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}

	root := testdir.New(t)
	write(mmap.NewVolume(root))
	file, err := os.ReadFile(mmap.ChannelPath(root, id))
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.NewVolume()
	write(mem)
	st, err := mem.Open(id)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	image := st.(*memory.Storage).Image()
	if len(file) != len(image) || len(file) != int(h.FileSize()) {
		t.Fatalf("file of %d bytes, memory image of %d, header says %d", len(file), len(image), h.FileSize())
	}
	if i := firstDiff(file, image); i >= 0 {
		t.Fatalf("the file differs from the memory image at byte %d: %#x, want %#x", i, file[i], image[i])
	}
	if bytes.Count(file, []byte{0}) == len(file) {
		t.Fatal("the file is all zeros")
	}
}

// firstDiff returns the first index where a and b, of one length, differ,
// or -1.
func firstDiff(a, b []byte) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

// TestReaderOfReadOnlyFile: a reader opens a channel file it may not write
// (mode 0444; the read-only attribute on Windows), reads it, and its
// storage refuses writes with ErrReadOnly, on every system.
func TestReaderOfReadOnlyFile(t *testing.T) {
	root := testdir.New(t)
	vol := mmap.NewVolume(root)
	const id = 0x77
	w, err := domain.Create(vol, channeltest.Header(t, id, 0), codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("read me")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	path := vol.Path(id)
	if err := os.Chmod(path, 0o444); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(path, 0o644) }) // Windows removes no read-only file
	r, st := openReader(t, vol, id)
	if st.Writable() {
		t.Fatal("a reader's storage is writable")
	}
	if _, err := st.WriteAt([]byte("x"), 1024); !errors.Is(err, mmap.ErrReadOnly) {
		t.Fatalf("WriteAt on a reader's storage: %v, want ErrReadOnly", err)
	}
	if err := st.StoreUint64(1024, 1); !errors.Is(err, mmap.ErrReadOnly) {
		t.Fatalf("StoreUint64 on a reader's storage: %v, want ErrReadOnly", err)
	}
	if got, err := readAll(t, r); len(got) != 1 || got[0] != "read me" || !errors.Is(err, domain.ErrClosed) {
		t.Fatalf("read %q, %v", got, err)
	}
}
