package mmap_test

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/internal/channeltest"
	"github.com/kekbit-go/kekbit/internal/layout"
	"github.com/kekbit-go/kekbit/internal/testdir"
	"github.com/kekbit-go/kekbit/internal/vectortest"
	"github.com/kekbit-go/kekbit/ports"
)

// openReader opens channel id of vol through the backend and returns the
// domain reader and the backend's storage under it.
func openReader(t *testing.T, vol *mmap.Volume, id uint64) (*domain.Reader, *mmap.Storage) {
	t.Helper()
	st, err := vol.Open(id)
	if err != nil {
		t.Fatal(err)
	}
	r, err := domain.NewReader(st)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r, st.(*mmap.Storage)
}

// readAll reads what is there now and returns the payloads (copied).
func readAll(t *testing.T, r *domain.Reader) ([]string, error) {
	t.Helper()
	var got []string
	_, err := r.Read(func(rec domain.Record) error { p := rec.Payload; got = append(got, string(p)); return nil }, 0)
	return got, err
}

// assertNoFiles fails if the channel file or the lock file of id exists.
func assertNoFiles(t *testing.T, root string, id uint64) {
	t.Helper()
	path := mmap.ChannelPath(root, id)
	for _, p := range []string{path, mmap.LockPath(path)} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind (Lstat: %v)", p, err)
		}
	}
}

func TestChannelPath(t *testing.T) {
	root := filepath.Join("some", "root")
	for _, c := range []struct {
		id         uint64
		folder, fn string
	}{
		{0, "0000_0000", "0000_0000"},
		{0xC2, "0000_0000", "0000_00c2"},
		{0xAAAA_BBBB_CCCC_DDDD, "aaaa_bbbb", "cccc_dddd"},
		{0xBBBB_CCCC_0001, "0000_bbbb", "cccc_0001"},
		{0xAAAA_00BB_000C_0DDD, "aaaa_00bb", "000c_0ddd"},
		{^uint64(0), "ffff_ffff", "ffff_ffff"},
	} {
		want := filepath.Join(root, c.folder, c.fn+".kekbit")
		path := mmap.ChannelPath(root, c.id)
		if path != want {
			t.Errorf("ChannelPath(%#x) = %s, want %s", c.id, path, want)
		}
		if lock := mmap.LockPath(path); lock != filepath.Join(root, c.folder, c.fn+".lock") {
			t.Errorf("LockPath(%s) = %s", path, lock)
		}
		if id, err := mmap.ParseChannelPath(root, path); err != nil || id != c.id {
			t.Errorf("ParseChannelPath(%s) = %#x, %v; want %#x", path, id, err, c.id)
		}
	}
	for _, rel := range []string{
		"0000_0000/0000_00C2.kekbit", // uppercase: the crate writes lowercase
		"0000_0000/0000_00c2.lock",
		"0000_0000/0000_00c2",
		"0000_0000/00000_0c2.kekbit",
		"0000_0000/0000-00c2.kekbit",
		"0000_000/0000_00c2.kekbit",
		"0000_0000/x/0000_00c2.kekbit",
		"0000_00c2.kekbit",
		"../0000_0000/0000_00c2.kekbit",
	} {
		if id, err := mmap.ParseChannelPath(root, filepath.Join(root, rel)); !errors.Is(err, mmap.ErrNotChannelPath) {
			t.Errorf("ParseChannelPath(%s) = %#x, %v; want ErrNotChannelPath", rel, id, err)
		}
	}
}

func TestCreateWriteRead(t *testing.T) {
	root := testdir.New(t)
	vol := mmap.NewVolume(root)
	const id = 0xC2
	h := channeltest.Header(t, id, 64*1024)
	w, err := domain.Create(vol, h, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	path := mmap.ChannelPath(root, id)

	// The file is exactly 1024 + capacity + 32 bytes, every block reserved,
	// and the lock file is gone.
	size, alloc := allocated(t, path)
	if want := int64(1024 + h.Capacity + 32); size != want || h.FileSize() != want {
		t.Fatalf("file is %d bytes, want %d", size, want)
	}
	if alloc < size {
		t.Fatalf("%d bytes allocated for %d bytes", alloc, size)
	}
	if _, err := os.Lstat(mmap.LockPath(path)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("lock file still there: %v", err)
	}

	// A reader opened before the writes sees them: the mapping is shared.
	r, rst := openReader(t, vol, id)
	if got, err := readAll(t, r); len(got) != 0 || !errors.Is(err, domain.ErrNothingYet) {
		t.Fatalf("empty channel read %q, %v", got, err)
	}
	want := []string{"There", "are", "10", "kinds", "of", "people"}
	for _, m := range want {
		if _, err := w.Write([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, err := readAll(t, r); !slices.Equal(got, want) || !errors.Is(err, domain.ErrNothingYet) {
		t.Fatalf("read %q, %v; want %q", got, err, want)
	}

	// A second writer is refused, through the domain and the volume.
	if _, err := domain.Create(vol, h, codecs.Raw{}); !errors.Is(err, ports.ErrChannelExists) {
		t.Fatalf("second Create: %v, want ErrChannelExists", err)
	} else if !strings.Contains(err.Error(), "0xc2") || !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name channel 0xc2 and %s", err, path)
	}
	if _, err := vol.Create(id, 1<<20, func(ports.Storage) error { return nil }); !errors.Is(err, ports.ErrChannelExists) {
		t.Fatalf("second Volume.Create: %v, want ErrChannelExists", err)
	}
	if _, err := os.Lstat(mmap.LockPath(path)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("refused Create left the lock file: %v", err)
	}

	// The writer is alive until it closes; then readers see the close mark.
	if alive, err := rst.WriterAlive(); !alive || err != nil {
		t.Fatalf("WriterAlive() = %v, %v while the writer is open", alive, err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if alive, err := rst.WriterAlive(); alive || err != nil {
		t.Fatalf("WriterAlive() = %v, %v after the writer closed", alive, err)
	}
	if got, err := readAll(t, r); len(got) != 0 || !errors.Is(err, domain.ErrClosed) {
		t.Fatalf("read %q, %v after close; want ErrClosed", got, err)
	}

	// List, Remove; a removed channel's open reader keeps working.
	if ids, err := vol.List(); err != nil || !slices.Equal(ids, []uint64{id}) {
		t.Fatalf("List() = %#x, %v", ids, err)
	}
	replay := func() {
		t.Helper()
		if err := r.MoveTo(0); err != nil {
			t.Fatal(err)
		}
		if got, err := readAll(t, r); !slices.Equal(got, want) || !errors.Is(err, domain.ErrClosed) {
			t.Fatalf("replay read %q, %v", got, err)
		}
	}
	if runtime.GOOS == "windows" {
		// Windows removes no file that is open (see
		// TestWindowsRefusesCutAndRemove): replay, then close, then Remove.
		replay()
		r.Close()
	}
	if err := vol.Remove(id); err != nil {
		t.Fatal(err)
	}
	assertNoFiles(t, root, id)
	if err := vol.Remove(id); !errors.Is(err, ports.ErrChannelNotFound) {
		t.Fatalf("second Remove: %v, want ErrChannelNotFound", err)
	}
	if _, err := vol.Open(id); !errors.Is(err, ports.ErrChannelNotFound) {
		t.Fatalf("Open after Remove: %v, want ErrChannelNotFound", err)
	}
	if ids, err := vol.List(); err != nil || len(ids) != 0 {
		t.Fatalf("List() = %#x, %v after Remove", ids, err)
	}
	if runtime.GOOS != "windows" {
		replay()
	}
}

func TestOpenWhileLockFileExists(t *testing.T) {
	root := testdir.New(t)
	vol := mmap.NewVolume(root)
	const id = 0x1_0000_0007
	path := mmap.ChannelPath(root, id)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	// A writer in the middle of creating: lock file, with the creator's
	// lock held, then channel file.
	lock, err := os.OpenFile(mmap.LockPath(path), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := (layout.OSFile{File: lock}).TryLock(); err != nil {
		t.Fatal(err)
	}
	if _, err := vol.Open(id); !errors.Is(err, ports.ErrChannelNotReady) {
		t.Fatalf("Open with only the lock file: %v, want ErrChannelNotReady", err)
	}
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := vol.Open(id); !errors.Is(err, ports.ErrChannelNotReady) {
		t.Fatalf("Open with the lock file: %v, want ErrChannelNotReady", err)
	}
	if _, err := domain.Open(vol, id); !errors.Is(err, ports.ErrChannelNotReady) {
		t.Fatalf("domain.Open with the lock file: %v, want ErrChannelNotReady", err)
	}
	if _, err := domain.Create(vol, channeltest.Header(t, id, 0), codecs.Raw{}); !errors.Is(err, ports.ErrChannelExists) {
		t.Fatalf("Create while another is creating: %v, want ErrChannelExists", err)
	}
	if _, err := os.Lstat(mmap.LockPath(path)); err != nil {
		t.Fatalf("refused Create removed the other writer's lock file: %v", err)
	}
	if ids, err := vol.List(); err != nil || len(ids) != 0 {
		t.Fatalf("List() = %#x, %v; a channel being created is not ready", ids, err)
	}
	// The creator dies: its lock goes, its files stay.
	lock.Close()
	if _, err := vol.Open(id); !errors.Is(err, ports.ErrChannelNotReady) || !errors.Is(err, mmap.ErrCreatorGone) {
		t.Fatalf("Open after the creator died: %v, want ErrChannelNotReady and ErrCreatorGone", err)
	}
	// Remove clears a creation that never finished.
	if err := vol.Remove(id); err != nil {
		t.Fatal(err)
	}
	assertNoFiles(t, root, id)
}

func TestOpenMissing(t *testing.T) {
	vol := mmap.NewVolume(filepath.Join(testdir.New(t), "nowhere"))
	if _, err := vol.Open(42); !errors.Is(err, ports.ErrChannelNotFound) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Open of a missing channel: %v, want ErrChannelNotFound", err)
	}
	if _, err := mmap.OpenFile(filepath.Join(testdir.New(t), "x.kekbit")); !errors.Is(err, ports.ErrChannelNotFound) {
		t.Fatalf("OpenFile of a missing file: %v, want ErrChannelNotFound", err)
	}
	if err := vol.Remove(42); !errors.Is(err, ports.ErrChannelNotFound) {
		t.Fatalf("Remove of a missing channel: %v, want ErrChannelNotFound", err)
	}
	if ids, err := vol.List(); err != nil || len(ids) != 0 {
		t.Fatalf("List() of a missing root = %#x, %v", ids, err)
	}
}

func TestCreateInitFails(t *testing.T) {
	root := testdir.New(t)
	vol := mmap.NewVolume(root)
	boom := errors.New("boom")
	var seen ports.Storage
	_, err := vol.Create(9, 20_000, func(st ports.Storage) error {
		seen = st
		// While init runs the channel is not ready.
		if _, err := vol.Open(9); !errors.Is(err, ports.ErrChannelNotReady) {
			t.Errorf("Open during init: %v, want ErrChannelNotReady", err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Create: %v, want init's error", err)
	}
	assertNoFiles(t, root, 9)
	if _, err := seen.ReadAt(make([]byte, 8), 0); !errors.Is(err, ports.ErrStorageClosed) {
		t.Fatalf("storage init saw is still open: %v", err)
	}
	// The id is free again.
	st, err := vol.Create(9, 20_000, func(ports.Storage) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
}

func TestCreateRejectsBadSize(t *testing.T) {
	root := testdir.New(t)
	if _, err := mmap.NewVolume(root).Create(1, 0, func(ports.Storage) error { return nil }); !errors.Is(err, ports.ErrOutOfRange) {
		t.Fatalf("Create of size 0: %v, want ErrOutOfRange", err)
	}
	assertNoFiles(t, root, 1)
}

func TestCreateDiskFullInjected(t *testing.T) {
	failFallocate(t, errDiskFull)
	root := testdir.New(t)
	vol := mmap.NewVolume(root)
	_, err := domain.Create(vol, channeltest.Header(t, 3, 0), codecs.Raw{})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Create on a full disk: %v, want ENOSPC", err)
	}
	assertNoFiles(t, root, 3)
	if ids, err := vol.List(); err != nil || len(ids) != 0 {
		t.Fatalf("List() = %#x, %v", ids, err)
	}
}

func TestCreateWithoutFallocate(t *testing.T) {
	failFallocate(t, errNoFallocate)
	root := testdir.New(t)
	vol := mmap.NewVolume(root)
	h := channeltest.Header(t, 6, 100_000)
	w, err := domain.Create(vol, h, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("zeros written by hand")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if size, alloc := allocated(t, mmap.ChannelPath(root, 6)); size != h.FileSize() || alloc < size {
		t.Fatalf("file of %d bytes, %d allocated; want %d bytes, all allocated", size, alloc, h.FileSize())
	}
	r, _ := openReader(t, vol, 6)
	if got, err := readAll(t, r); !slices.Equal(got, []string{"zeros written by hand"}) || !errors.Is(err, domain.ErrClosed) {
		t.Fatalf("read %q, %v", got, err)
	}
}

func TestStorage(t *testing.T) {
	root := testdir.New(t)
	vol := mmap.NewVolume(root)
	const size = 5000 // not a multiple of 8
	ws, err := vol.Create(1, size, func(ports.Storage) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	w := ws.(*mmap.Storage)
	if !w.Writable() || w.Size() != size || len(w.Bytes()) != size || len(w.Words()) != (size+7)/8 {
		t.Fatalf("writer storage: writable %v, size %d, %d bytes, %d words", w.Writable(), w.Size(), len(w.Bytes()), len(w.Words()))
	}
	if alive, err := w.WriterAlive(); !alive || err != nil {
		t.Fatalf("WriterAlive() on the writer = %v, %v", alive, err)
	}
	if n, err := w.WriteAt([]byte("hello"), 8); n != 5 || err != nil {
		t.Fatalf("WriteAt = %d, %v", n, err)
	}
	if err := w.StoreUint64(16, 0x0102030405060708); err != nil {
		t.Fatal(err)
	}
	if got := binary.LittleEndian.Uint64(w.Bytes()[16:]); got != 0x0102030405060708 {
		t.Fatalf("StoreUint64 is not little endian in Bytes: %#x", got)
	}
	if got := w.Words()[2]; got != binary.NativeEndian.Uint64(w.Bytes()[16:]) {
		t.Fatalf("Words()[2] = %#x, not Bytes()[16:24]", got)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}

	// Range and alignment errors.
	if _, err := w.WriteAt(make([]byte, 2), size-1); !errors.Is(err, ports.ErrOutOfRange) {
		t.Errorf("WriteAt across the end: %v", err)
	}
	if err := w.StoreUint64(12, 1); !errors.Is(err, ports.ErrUnalignedOffset) {
		t.Errorf("StoreUint64 unaligned: %v", err)
	}
	if _, err := w.LoadUint64(size - 4); !errors.Is(err, ports.ErrOutOfRange) {
		t.Errorf("LoadUint64 across the end: %v", err)
	}
	if _, err := w.LoadUint64(-8); !errors.Is(err, ports.ErrOutOfRange) {
		t.Errorf("LoadUint64 at -8: %v", err)
	}

	r, err := vol.Open(1)
	if err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 5)
	if n, err := r.ReadAt(p, 8); n != 5 || err != nil || string(p) != "hello" {
		t.Fatalf("ReadAt = %d, %v, %q", n, err, p)
	}
	if v, err := r.LoadUint64(16); v != 0x0102030405060708 || err != nil {
		t.Fatalf("LoadUint64 = %#x, %v", v, err)
	}
	if n, err := r.ReadAt(make([]byte, 10), size-4); n != 4 || !errors.Is(err, ports.ErrOutOfRange) {
		t.Fatalf("ReadAt across the end = %d, %v; want 4, ErrOutOfRange", n, err)
	}
	if _, err := r.WriteAt([]byte("x"), 0); !errors.Is(err, mmap.ErrReadOnly) || !errors.Is(err, os.ErrPermission) {
		t.Fatalf("WriteAt on a reader: %v, want ErrReadOnly", err)
	}
	if err := r.StoreUint64(0, 1); !errors.Is(err, mmap.ErrReadOnly) {
		t.Fatalf("StoreUint64 on a reader: %v, want ErrReadOnly", err)
	}
	if err := r.Flush(); err != nil {
		t.Fatalf("Flush on a reader: %v", err)
	}

	// After Close every method but Close returns ErrStorageClosed.
	for _, st := range []ports.Storage{w, r} {
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		if err := st.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if _, err := st.ReadAt(p, 0); !errors.Is(err, ports.ErrStorageClosed) {
			t.Errorf("ReadAt after Close: %v", err)
		}
		if _, err := st.WriteAt(p, 0); !errors.Is(err, ports.ErrStorageClosed) {
			t.Errorf("WriteAt after Close: %v", err)
		}
		if _, err := st.LoadUint64(0); !errors.Is(err, ports.ErrStorageClosed) {
			t.Errorf("LoadUint64 after Close: %v", err)
		}
		if err := st.StoreUint64(0, 0); !errors.Is(err, ports.ErrStorageClosed) {
			t.Errorf("StoreUint64 after Close: %v", err)
		}
		if err := st.Flush(); !errors.Is(err, ports.ErrStorageClosed) {
			t.Errorf("Flush after Close: %v", err)
		}
		s := st.(*mmap.Storage)
		if _, err := s.WriterAlive(); !errors.Is(err, ports.ErrStorageClosed) {
			t.Errorf("WriterAlive after Close: %v", err)
		}
		if s.Bytes() != nil || s.Words() != nil {
			t.Errorf("views handed out after Close")
		}
	}
}

func TestEmptyFile(t *testing.T) {
	path := filepath.Join(testdir.New(t), "empty.kekbit")
	if err := os.WriteFile(path, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	st, err := mmap.OpenFile(path)
	if err != nil {
		t.Fatalf("OpenFile of an empty file: %v", err)
	}
	if st.Size() != 0 || len(st.Bytes()) != 0 || len(st.Words()) != 0 {
		t.Fatalf("empty file: size %d", st.Size())
	}
	if _, err := st.ReadAt(make([]byte, 1), 0); !errors.Is(err, ports.ErrOutOfRange) {
		t.Fatalf("ReadAt: %v", err)
	}
	if _, err := domain.NewReader(st); !errors.Is(err, domain.ErrInvalidHeader) {
		t.Fatalf("NewReader of an empty file: %v, want a header error", err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestWriteAllocs(t *testing.T) {
	vol := mmap.NewVolume(testdir.New(t))
	w, err := domain.Create(vol, channeltest.Header(t, 10, 1<<20), codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	r, _ := openReader(t, vol, 10)
	msg := []byte("a record of some length")
	if n := testing.AllocsPerRun(1000, func() {
		if _, err := w.Write(msg); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("%v allocations per Write", n)
	}
	handler := func(domain.Record) error { return nil }
	if n := testing.AllocsPerRun(1000, func() {
		if _, err := r.Read(handler, 1); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("%v allocations per Read", n)
	}
}

// TestHandlerFaultIsNotTruncation: a handler that writes into a reader's
// read-only payload faults inside the mapping, below the file's end; that
// is the handler's bug, and it must come out as a panic, not as a
// truncated channel.
func TestHandlerFaultIsNotTruncation(t *testing.T) {
	root := testdir.New(t)
	vol := mmap.NewVolume(root)
	w, err := domain.Create(vol, channeltest.Header(t, 31, 64<<10), codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.Write([]byte("read-only"))
	st, err := vol.Open(31)
	if err != nil {
		t.Fatal(err)
	}
	r, err := domain.NewReader(st)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var readErr error
	panicked := func() (v any) {
		defer func() { v = recover() }()
		_, readErr = r.Read(func(rec domain.Record) error { p := rec.Payload; p[0] = 'R'; return nil }, 0)
		return nil
	}()
	if panicked == nil {
		t.Fatalf("writing into a read-only payload did not panic; Read gave %v", readErr)
	}
}

// TestCrateChannelLivenessUnknown: the Rust crate's writer takes no lock,
// so on a channel it wrote the reader cannot tell whether the writer is
// alive, and Follow must not report it gone.
func TestCrateChannelLivenessUnknown(t *testing.T) {
	vs, err := vectortest.Load()
	if err != nil {
		t.Fatal(err)
	}
	st, err := mmap.OpenFile(vs[4].Path) // d_mixed_unclosed: crate-sized, never closed
	if err != nil {
		t.Fatal(err)
	}
	r, err := domain.NewReader(st)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.WriterAlive(); !errors.Is(err, domain.ErrLivenessUnknown) {
		t.Fatalf("WriterAlive on %s: %v, want ErrLivenessUnknown", vs[4].Name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	quick := domain.Wait{MinSleep: time.Millisecond, MaxSleep: time.Millisecond}
	r2, _ := domain.NewReader(mustOpenFile(t, vs[4].Path), domain.WithWait(quick))
	defer r2.Close()
	if err := r2.Follow(ctx, func(domain.Record) error { return nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Follow on a crate channel: %v, want the context's deadline", err)
	}
}

func mustOpenFile(t *testing.T, path string) *mmap.Storage {
	t.Helper()
	st, err := mmap.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return st
}
