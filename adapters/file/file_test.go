package file_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"syscall"
	"testing"

	"github.com/spf13/afero"

	"github.com/kekbit-go/kekbit/adapters/file"
	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/internal/channeltest"
	"github.com/kekbit-go/kekbit/ports"
)

// fileSystems are the afero file systems every test here runs on: the
// disk (a temporary folder) and memory.
func fileSystems(t *testing.T) map[string]func(t *testing.T) (afero.Fs, string) {
	return map[string]func(t *testing.T) (afero.Fs, string){
		"OsFs":     func(t *testing.T) (afero.Fs, string) { return afero.NewOsFs(), t.TempDir() },
		"MemMapFs": func(*testing.T) (afero.Fs, string) { return afero.NewMemMapFs(), "/kekbit" },
	}
}

// onEach runs test on each of fileSystems, in a subtest.
func onEach(t *testing.T, test func(t *testing.T, fsys afero.Fs, root string)) {
	for name, mk := range fileSystems(t) {
		t.Run(name, func(t *testing.T) {
			fsys, root := mk(t)
			test(t, fsys, root)
		})
	}
}

// assertNoFiles fails if the channel file or the lock file at path exists.
func assertNoFiles(t *testing.T, fsys afero.Fs, path string) {
	t.Helper()
	for _, p := range []string{path, mmap.LockPath(path)} {
		if _, err := fsys.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s left behind (Stat: %v)", p, err)
		}
	}
}

func TestNotAddressable(t *testing.T) {
	onEach(t, func(t *testing.T, fsys afero.Fs, root string) {
		vol := file.NewVolume(fsys, root)
		w, err := vol.Create(1, 64, func(ports.Storage) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		r, err := vol.Open(1)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		for _, st := range []ports.Storage{w, r} {
			if _, ok := st.(ports.Addressable); ok {
				t.Errorf("%T implements ports.Addressable", st)
			}
		}
		if !w.(*file.Storage).Writable() || r.(*file.Storage).Writable() {
			t.Errorf("Writable: writer %v, reader %v", w.(*file.Storage).Writable(), r.(*file.Storage).Writable())
		}
		if _, err := r.WriteAt([]byte{1}, 0); !errors.Is(err, file.ErrReadOnly) || !errors.Is(err, fs.ErrPermission) {
			t.Errorf("WriteAt on a reader's storage: %v, want ErrReadOnly", err)
		}
		if err := r.StoreUint64(0, 1); !errors.Is(err, file.ErrReadOnly) {
			t.Errorf("StoreUint64 on a reader's storage: %v, want ErrReadOnly", err)
		}
	})
}

func TestLayout(t *testing.T) {
	onEach(t, func(t *testing.T, fsys afero.Fs, root string) {
		vol := file.NewVolume(fsys, root)
		const id = 0xAAAA_BBBB_CCCC_DDDD
		w, err := domain.Create(vol, channeltest.Header(t, id, 16<<10), codecs.Raw{})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		path := mmap.ChannelPath(root, id)
		if vol.Path(id) != path {
			t.Errorf("Path(%#x) = %s, want %s", uint64(id), vol.Path(id), path)
		}
		fi, err := fsys.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() != w.Header().FileSize() {
			t.Errorf("%s has %d bytes, want %d", path, fi.Size(), w.Header().FileSize())
		}
		if _, err := fsys.Stat(mmap.LockPath(path)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("lock file of a ready channel: %v", err)
		}
		// The header and first heartbeat are there, as the crate writes them.
		img, err := afero.ReadFile(fsys, path)
		if err != nil {
			t.Fatal(err)
		}
		if sig := binary.LittleEndian.Uint64(img); sig != 0x2A54_4942_4B45_4B2A {
			t.Errorf("signature %#x", sig)
		}
		if hb, wm := binary.LittleEndian.Uint64(img[1024:]), binary.LittleEndian.Uint64(img[1032:]); hb != 0 || wm != 0xFFFF_FFFF_1111_1111 {
			t.Errorf("first record word %#x and watermark %#x", hb, wm)
		}
	})
}

// faultFs makes the files it opens fail WriteAt or Sync.
type faultFs struct {
	afero.Fs
	writeAt, sync error
}

func (f faultFs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	file, err := f.Fs.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return faultFile{File: file, fs: f}, nil
}

type faultFile struct {
	afero.File
	fs faultFs
}

func (f faultFile) WriteAt(p []byte, off int64) (int, error) {
	if f.fs.writeAt != nil {
		return 0, f.fs.writeAt
	}
	return f.File.WriteAt(p, off)
}

func (f faultFile) Sync() error {
	if f.fs.sync != nil {
		return f.fs.sync
	}
	return f.File.Sync()
}

// TestCreateFailureLeavesNothing makes each step of Create fail in turn
// and checks that the error says why and that no file is left.
func TestCreateFailureLeavesNothing(t *testing.T) {
	boom := errors.New("init failed")
	onEach(t, func(t *testing.T, fsys afero.Fs, root string) {
		for _, c := range []struct {
			name string
			fs   afero.Fs
			init error
			want error
		}{
			{"reserve", faultFs{Fs: fsys, writeAt: syscall.ENOSPC}, nil, syscall.ENOSPC},
			{"init", fsys, boom, boom},
			{"Sync", faultFs{Fs: fsys, sync: syscall.EIO}, nil, syscall.EIO},
		} {
			vol := file.NewVolume(c.fs, root)
			st, err := vol.Create(7, 4096, func(st ports.Storage) error {
				st.WriteAt([]byte("written by init"), 0)
				return c.init
			})
			if !errors.Is(err, c.want) || st != nil {
				t.Errorf("%s fails: Create = %v, %v; want %v", c.name, st, err, c.want)
			}
			assertNoFiles(t, fsys, vol.Path(7))
			if _, err := vol.Open(7); !errors.Is(err, ports.ErrChannelNotFound) {
				t.Errorf("%s fails: Open after it = %v, want ErrChannelNotFound", c.name, err)
			}
		}
		// A file system that refuses to create anything.
		ro := file.NewVolume(afero.NewReadOnlyFs(fsys), root+"/elsewhere")
		if _, err := ro.Create(7, 4096, func(ports.Storage) error { return nil }); err == nil || errors.Is(err, ports.ErrChannelExists) {
			t.Errorf("Create on a read-only file system: %v", err)
		}
		if _, err := file.NewVolume(fsys, root).Create(7, -1, nil); !errors.Is(err, ports.ErrOutOfRange) {
			t.Errorf("Create of size -1: %v, want ErrOutOfRange", err)
		}
		st, err := file.NewVolume(fsys, root).Create(7, 4096, func(ports.Storage) error { return nil })
		if err != nil {
			t.Fatalf("Create after the failures: %v", err)
		}
		st.Close()
	})
}

// TestLockFile checks how a lock file left by a writer that is still
// creating the channel (or died doing it) is seen.
func TestLockFile(t *testing.T) {
	onEach(t, func(t *testing.T, fsys afero.Fs, root string) {
		vol := file.NewVolume(fsys, root)
		path := vol.Path(0xC2)
		if err := fsys.MkdirAll(root+"/0000_0000", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := afero.WriteFile(fsys, mmap.LockPath(path), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		// Nobody holds its lock: its creator died.
		if _, err := vol.Open(0xC2); !errors.Is(err, ports.ErrChannelNotReady) || !errors.Is(err, mmap.ErrCreatorGone) {
			t.Errorf("Open with only a lock file: %v, want ErrChannelNotReady and ErrCreatorGone", err)
		}
		// A new writer takes the id over.
		st, err := vol.Create(0xC2, 64, func(ports.Storage) error { return nil })
		if err != nil {
			t.Fatalf("Create with a dead creator's lock file: %v", err)
		}
		st.Close()
		if _, err := fsys.Stat(mmap.LockPath(path)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the lock file after a Create took the id over: %v", err)
		}
		if err := fsys.Remove(path); err != nil {
			t.Fatal(err)
		}
		if err := afero.WriteFile(fsys, mmap.LockPath(path), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := afero.WriteFile(fsys, path, make([]byte, 64), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := vol.Open(0xC2); !errors.Is(err, ports.ErrChannelNotReady) {
			t.Errorf("Open with a lock file: %v, want ErrChannelNotReady", err)
		}
		if ids, err := vol.List(); len(ids) != 0 || err != nil {
			t.Errorf("List() = %#x, %v; want []", ids, err)
		}
		// OpenFile ignores lock files.
		st, err = file.OpenFile(fsys, path)
		if err != nil {
			t.Errorf("OpenFile with a lock file: %v", err)
		} else {
			st.Close()
		}
		if err := vol.Remove(0xC2); err != nil {
			t.Errorf("Remove: %v", err)
		}
		assertNoFiles(t, fsys, path)
		// A lock file alone is a channel Remove removes.
		afero.WriteFile(fsys, mmap.LockPath(path), nil, 0o644)
		if err := vol.Remove(0xC2); err != nil {
			t.Errorf("Remove of a lock file alone: %v", err)
		}
		assertNoFiles(t, fsys, path)
	})
}

func TestCreateFileOpenFile(t *testing.T) {
	onEach(t, func(t *testing.T, fsys afero.Fs, root string) {
		if err := fsys.MkdirAll(root, 0o755); err != nil {
			t.Fatal(err)
		}
		path := root + "/journal.kekbit"
		h := channeltest.Header(t, 5, 16<<10)
		var w *domain.Writer[[]byte]
		st, err := file.CreateFile(fsys, path, h.FileSize(), func(st ports.Storage) (err error) {
			w, err = domain.NewWriter(st, h, codecs.Raw{})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if st.Name() != path || st.Size() != h.FileSize() {
			t.Errorf("Name() = %s, Size() = %d", st.Name(), st.Size())
		}
		w.Write([]byte("hello"))
		w.Close()
		assertNoLock(t, fsys, path)
		rst, err := file.OpenFile(fsys, path)
		if err != nil {
			t.Fatal(err)
		}
		r, err := domain.NewReader(rst)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		var got []string
		if _, err := r.Read(func(rec domain.Record) error { p := rec.Payload; got = append(got, string(p)); return nil }, 0); !errors.Is(err, domain.ErrClosed) || !slices.Equal(got, []string{"hello"}) {
			t.Errorf("read %q, %v", got, err)
		}
		if _, err := file.OpenFile(fsys, root+"/missing.kekbit"); !errors.Is(err, ports.ErrChannelNotFound) {
			t.Errorf("OpenFile of a missing file: %v, want ErrChannelNotFound", err)
		}
		if _, err := file.OpenFile(fsys, root); err == nil {
			t.Errorf("OpenFile of a folder: no error")
		}
	})
}

func assertNoLock(t *testing.T, fsys afero.Fs, path string) {
	t.Helper()
	if _, err := fsys.Stat(mmap.LockPath(path)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("lock file left: %v", err)
	}
}

// TestFileCutShort cuts a channel file short under its storages: accesses
// past the new end fail with ErrOutOfRange, and the domain reader reports
// the channel truncated.
func TestFileCutShort(t *testing.T) {
	onEach(t, func(t *testing.T, fsys afero.Fs, root string) {
		vol := file.NewVolume(fsys, root)
		w, err := domain.Create(vol, channeltest.Header(t, 3, 16<<10), codecs.Raw{})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		for range 10 {
			w.Write(bytes.Repeat([]byte{7}, 100))
		}
		st, err := vol.Open(3)
		if err != nil {
			t.Fatal(err)
		}
		r, err := domain.NewReader(st)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		cut, err := fsys.OpenFile(vol.Path(3), os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := errors.Join(cut.Truncate(1024+300), cut.Close()); err != nil {
			t.Fatal(err)
		}
		if st.Size() != w.Header().FileSize() {
			t.Errorf("Size() = %d changed after the file was cut short", st.Size())
		}
		p := make([]byte, 16)
		if n, err := st.ReadAt(p, 1024+296); n != 4 || !errors.Is(err, ports.ErrOutOfRange) {
			t.Errorf("ReadAt across the new end = %d, %v; want 4, ErrOutOfRange", n, err)
		}
		if _, err := st.LoadUint64(1024 + 400); !errors.Is(err, ports.ErrOutOfRange) {
			t.Errorf("LoadUint64 past the new end: %v, want ErrOutOfRange", err)
		}
		n := 0
		if _, err := r.Read(func(domain.Record) error { n++; return nil }, 0); !errors.Is(err, ports.ErrOutOfRange) && !errors.Is(err, domain.ErrTruncated) {
			t.Errorf("reading the cut file: %v", err)
		}
		if n != 2 {
			t.Errorf("read %d records of the cut file, want the 2 wholly inside it", n)
		}
	})
}

// TestFollowLive follows a writer in another goroutine, each through its
// own open file: every record arrives whole and in order, then the close
// mark. On OsFs this is what a reader in another process sees (the kernel
// does not tell the two apart); on MemMapFs the race detector watches.
func TestFollowLive(t *testing.T) {
	record := func(i int) []byte {
		p := binary.LittleEndian.AppendUint64(nil, uint64(i))
		return append(p, bytes.Repeat([]byte{byte(i)}, i%50)...)
	}
	onEach(t, func(t *testing.T, fsys afero.Fs, root string) {
		// MemMapFs's WriteAt copies the rest of the file each time: keep
		// its channel small.
		n, capacity := 20_000, uint32(1<<20)
		if _, mem := fsys.(*afero.MemMapFs); mem {
			n, capacity = 3_000, 256<<10
		}
		vol := file.NewVolume(fsys, root)
		w, err := domain.Create(vol, channeltest.Header(t, 9, capacity), codecs.Raw{})
		if err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() {
			defer w.Close()
			for i := range n {
				if _, err := w.Write(record(i)); err != nil {
					errc <- fmt.Errorf("record %d: %w", i, err)
					return
				}
			}
			errc <- w.Close()
		}()
		r, err := domain.Open(vol, 9)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		next := 0
		for {
			_, err := r.Read(func(rec domain.Record) error {
				p := rec.Payload
				if !bytes.Equal(p, record(next)) {
					t.Fatalf("record %d: got %x, want %x", next, p, record(next))
				}
				next++
				return nil
			}, 0)
			if errors.Is(err, domain.ErrNothingYet) {
				continue
			}
			if !errors.Is(err, domain.ErrClosed) || next != n {
				t.Fatalf("read %d records, ended with %v; want %d, ErrClosed", next, err, n)
			}
			break
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	})
}

// TestMmapWriterFileReader follows a channel written through the mmap
// backend with a reader of this one, on the same files.
func TestMmapWriterFileReader(t *testing.T) {
	root := t.TempDir()
	w, err := domain.Create(mmap.NewVolume(root), channeltest.Header(t, 4, 16<<10), codecs.Text{})
	if err != nil {
		t.Skipf("mmap backend: %v", err)
	}
	defer w.Close()
	r, err := domain.Open(file.NewVolume(afero.NewOsFs(), root), 4)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got []string
	read := func() error {
		_, err := r.Read(func(rec domain.Record) error { p := rec.Payload; got = append(got, string(p)); return nil }, 0)
		return err
	}
	w.Write("one")
	w.Write("two")
	if err := read(); !errors.Is(err, domain.ErrNothingYet) || !slices.Equal(got, []string{"one", "two"}) {
		t.Errorf("read %q, %v", got, err)
	}
	w.Close()
	if err := read(); !errors.Is(err, domain.ErrClosed) {
		t.Errorf("after close: %v", err)
	}
}

// TestAllocs checks that Write, Heartbeat and Read allocate nothing.
func TestAllocs(t *testing.T) {
	onEach(t, func(t *testing.T, fsys afero.Fs, root string) {
		vol := file.NewVolume(fsys, root)
		w, err := domain.Create(vol, channeltest.Header(t, 1, 1<<20), codecs.Raw{})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		r, err := domain.Open(vol, 1)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		data := make([]byte, 72)
		handler := func(domain.Record) error { return nil }
		for name, op := range map[string]func(){
			"Write":     func() { w.Write(data) },
			"Heartbeat": func() { w.Heartbeat() },
			"Read":      func() { r.Read(handler, 1) },
		} {
			if a := testing.AllocsPerRun(100, op); a != 0 {
				t.Errorf("%s: %v allocations per run, want 0", name, a)
			}
		}
	})
}
