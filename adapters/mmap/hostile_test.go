//go:build linux

package mmap_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/ports"
)

// hangGuard is how long an open of something that is not a channel may
// take before the test takes it for a hang (they take well under a
// millisecond: see the logs).
const hangGuard = time.Second

// openBounded runs open in a goroutine and fails the test if it does not
// return within hangGuard; it returns open's error and how long it took.
func openBounded(t *testing.T, what string, open func() error) (error, time.Duration) {
	t.Helper()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- open() }()
	select {
	case err := <-done:
		return err, time.Since(start)
	case <-time.After(hangGuard):
		t.Fatalf("%s: no answer after %v", what, hangGuard)
		return nil, 0
	}
}

// TestOpenNotRegular: a FIFO, a folder or a device at a channel's path is
// refused at once with ErrNotRegular, by Open, OpenFile and OpenForWrite;
// a FIFO does not block the open.
func TestOpenNotRegular(t *testing.T) {
	for _, kind := range []string{"fifo", "folder", "device"} {
		t.Run(kind, func(t *testing.T) {
			vol := mmap.NewVolume(shmDir(t))
			const id = 0x1_0000_0002
			path := vol.Path(id)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			var err error
			switch kind {
			case "fifo":
				err = syscall.Mkfifo(path, 0o644)
			case "folder":
				err = os.Mkdir(path, 0o755)
			case "device":
				if os.Geteuid() != 0 {
					t.Skip("mknod needs the superuser (TestOpenDevice opens /dev/null by its path)")
				}
				err = syscall.Mknod(path, syscall.S_IFCHR|0o644, 1<<8|3) // /dev/null's numbers
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, op := range []struct {
				name string
				open func() error
			}{
				{"Open", func() error { _, err := vol.Open(id); return err }},
				{"OpenFile", func() error { _, err := mmap.OpenFile(path); return err }},
				{"OpenForWrite", func() error { _, err := vol.OpenForWrite(id); return err }},
			} {
				err, took := openBounded(t, op.name, op.open)
				if !errors.Is(err, mmap.ErrNotRegular) {
					t.Errorf("%s of a %s: %v, want ErrNotRegular", op.name, kind, err)
				}
				t.Logf("%s: %v in %v", op.name, err, took)
			}
			if ids, err := vol.List(); err != nil || len(ids) != 0 {
				t.Errorf("List = %v, %v; want no channels", ids, err)
			}
		})
	}
}

// TestOpenDevice: a device named by its path is refused at once with
// ErrNotRegular, by OpenFile and OpenForWrite.
func TestOpenDevice(t *testing.T) {
	for _, dev := range []string{"/dev/null", "/dev/zero"} {
		if _, err := mmap.OpenFile(dev); !errors.Is(err, mmap.ErrNotRegular) {
			t.Errorf("OpenFile(%s): %v, want ErrNotRegular", dev, err)
		}
		if _, err := mmap.OpenForWrite(dev); !errors.Is(err, mmap.ErrNotRegular) {
			t.Errorf("OpenForWrite(%s): %v, want ErrNotRegular", dev, err)
		}
	}
}

// TestOpenHugeSparseTail: a valid channel whose file goes on, sparse, far
// past what its header needs (200 TiB where tmpfs allows it) opens: only
// the 1024 + capacity + 32 bytes the header asks for are mapped.
func TestOpenHugeSparseTail(t *testing.T) {
	vol := mmap.NewVolume(shmDir(t))
	h, err := domain.NewHeader(domain.Hints{ChannelID: 4, Capacity: 1 << 16, MaxMsgLen: 64, Timeout: 1000, TickUnit: domain.Millis})
	if err != nil {
		t.Fatal(err)
	}
	w, err := domain.Create(vol, h, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("before the tail")); err != nil {
		t.Fatal(err)
	}
	w.Close()
	size := int64(200) << 40
	for os.Truncate(vol.Path(4), size) != nil {
		if size >>= 1; size <= h.FileSize() {
			t.Fatal("the file system allows no sparse tail")
		}
	}
	t.Logf("file of %d GiB", size>>30)
	st, err := vol.Open(4)
	if err != nil {
		t.Fatalf("Open of a channel with a sparse tail of %d bytes: %v", size, err)
	}
	defer st.Close()
	if st.Size() != h.FileSize() {
		t.Errorf("Size() = %d, want the header's %d", st.Size(), h.FileSize())
	}
	r, err := domain.NewReader(st)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	_, err = r.Read(func(rec domain.Record) error { got = append(got, string(rec.Payload)); return nil }, 0)
	if !errors.Is(err, domain.ErrClosed) || len(got) != 1 {
		t.Errorf("read %q, %v; want one record and ErrClosed", got, err)
	}
}

// residentKiB returns this process's resident set (VmRSS), in KiB.
func residentKiB(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// plantSparse writes a valid header claiming capacity 2^32-8 at path and
// gives the file the length that header asks for, all of it a hole but
// the first page.
func plantSparse(t *testing.T, path string) {
	t.Helper()
	h, err := domain.NewHeader(domain.Hints{ChannelID: 7, Capacity: domain.MaxCapacity, MaxMsgLen: 1 << 20, Timeout: 1000, TickUnit: domain.Millis})
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, h.FileSize()); err != nil {
		t.Fatal(err)
	}
}

// TestOpenPlantedSparse: a 4 GiB sparse file whose header claims capacity
// 2^32-8 is refused with ErrHole at once, and costs the reader a few MB of
// memory at most, not the 4 GiB that reading its holes as heartbeats
// would make tmpfs allocate.
func TestOpenPlantedSparse(t *testing.T) {
	vol := mmap.NewVolume(shmDir(t))
	plantSparse(t, vol.Path(7))
	before := residentKiB(t)
	err, took := openBounded(t, "Open", func() error {
		st, err := vol.Open(7)
		if err == nil {
			st.Close()
		}
		return err
	})
	grew := residentKiB(t) - before
	if !errors.Is(err, mmap.ErrHole) {
		t.Fatalf("Open of a planted sparse file: %v, want ErrHole", err)
	}
	if grew > 4<<10 {
		t.Errorf("the open grew the resident set by %d KiB", grew)
	}
	t.Logf("%v in %v, resident set +%d KiB", err, took, grew)
	if _, err := mmap.OpenFile(vol.Path(7)); !errors.Is(err, mmap.ErrHole) {
		t.Errorf("OpenFile: %v, want ErrHole", err)
	}
	if _, err := vol.OpenForWrite(7); !errors.Is(err, mmap.ErrHole) {
		t.Errorf("OpenForWrite: %v, want ErrHole", err)
	}
}

// TestOpenSparseChannel: a sparse file whose records end in an end mark
// before its first hole, as the crate leaves a channel it sized with
// set_len, opens and reads whole; one whose records run on into a hole
// after an end mark is rewritten does not.
func TestOpenSparseChannel(t *testing.T) {
	dir := shmDir(t)
	vol := mmap.NewVolume(dir)
	h, err := domain.NewHeader(domain.Hints{ChannelID: 3, Capacity: 1 << 20, MaxMsgLen: 1 << 12, Timeout: 1000, TickUnit: domain.Millis})
	if err != nil {
		t.Fatal(err)
	}
	w, err := domain.Create(vol, h, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"one", strings.Repeat("x", 3000), "three"}
	for _, s := range want {
		if _, err := w.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Release(); err != nil {
		t.Fatal(err)
	}
	full, err := os.ReadFile(vol.Path(3))
	if err != nil {
		t.Fatal(err)
	}
	// The same bytes in a sparse file: only the pages that hold a byte
	// that is not zero are written.
	sparse := filepath.Join(dir, "sparse.kekbit")
	f, err := os.Create(sparse)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(int64(len(full))); err != nil {
		t.Fatal(err)
	}
	page := os.Getpagesize()
	for off := 0; off < len(full); off += page {
		p := full[off:min(off+page, len(full))]
		if bytes.Count(p, []byte{0}) != len(p) {
			if _, err := f.WriteAt(p, int64(off)); err != nil {
				t.Fatal(err)
			}
		}
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	if st.Blocks*512 >= int64(len(full)) {
		t.Fatalf("the copy is not sparse: %d blocks for %d bytes", st.Blocks, len(full))
	}
	s, err := mmap.OpenFile(sparse)
	if err != nil {
		t.Fatalf("OpenFile of a sparse channel: %v", err)
	}
	r, err := domain.NewReader(s)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	if _, err := r.Read(func(rec domain.Record) error { got = append(got, string(rec.Payload)); return nil }, 0); !errors.Is(err, domain.ErrNothingYet) {
		t.Errorf("Read: %v, want ErrNothingYet", err)
	}
	r.Close()
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("read %q, want %q", got, want)
	}
	// Rub out the watermark after the last record: the records now run on,
	// as heartbeats, into the hole after them.
	var mark [8]byte
	binary.LittleEndian.PutUint64(mark[:], domain.Watermark)
	end := int64(bytes.Index(full[domain.DataOffset:], mark[:]) + domain.DataOffset)
	if end < domain.DataOffset || end%8 != 0 {
		t.Fatalf("no watermark in the channel, or at %d", end)
	}
	if _, err := f.WriteAt(make([]byte, 8), end); err != nil {
		t.Fatal(err)
	}
	if _, err := mmap.OpenFile(sparse); !errors.Is(err, mmap.ErrHole) {
		t.Errorf("OpenFile with the watermark rubbed out: %v, want ErrHole", err)
	}
	var _ ports.Storage = s
}

// TestFolderSymlinkRefused: a channel folder planted as a symbolic link to
// another folder makes the writer refuse, with ErrSymlink naming the link,
// and create nothing where it points; readers and the removers refuse it
// too.
func TestFolderSymlinkRefused(t *testing.T) {
	root, elsewhere := t.TempDir(), t.TempDir()
	link := filepath.Join(root, "0000_0001")
	if err := os.Symlink(elsewhere, link); err != nil {
		t.Fatal(err)
	}
	vol := mmap.NewVolume(root)
	const id = 0x1_0000_0001
	_, err := vol.Create(id, 1<<15, func(ports.Storage) error { return nil })
	if !errors.Is(err, mmap.ErrSymlink) || !strings.Contains(err.Error(), link) {
		t.Errorf("Create through a folder link: %v, want ErrSymlink naming %s", err, link)
	}
	t.Logf("Create: %v", err)
	if names, err := os.ReadDir(elsewhere); err != nil || len(names) != 0 {
		t.Errorf("the folder the link names holds %v (%v)", names, err)
	}
	// A channel made where the link points is not opened through it.
	real := mmap.NewVolume(t.TempDir())
	st, err := real.Create(1, 1<<15, func(ports.Storage) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Dir(real.Path(1)), link); err != nil {
		t.Fatal(err)
	}
	for name, op := range map[string]func() error{
		"Open":            func() error { _, err := vol.Open(id); return err },
		"OpenForWrite":    func() error { _, err := vol.OpenForWrite(id); return err },
		"RemoveAbandoned": func() error { return vol.RemoveAbandoned(id) },
		"Remove":          func() error { return vol.Remove(id) },
	} {
		if err := op(); !errors.Is(err, mmap.ErrSymlink) {
			t.Errorf("%s through a folder link: %v, want ErrSymlink", name, err)
		}
	}
	if _, err := os.Stat(real.Path(1)); err != nil {
		t.Errorf("the channel the link reaches: %v", err)
	}
	if ids, err := vol.List(); err != nil || len(ids) != 0 {
		t.Errorf("List = %v, %v; want no channels", ids, err)
	}
}

// TestChannelSymlinkRefused: a channel file that is a symbolic link to a
// channel is refused by Open and OpenForWrite (ErrSymlink) and not listed;
// Remove removes the link, not the channel.
func TestChannelSymlinkRefused(t *testing.T) {
	real := mmap.NewVolume(t.TempDir())
	st, err := real.Create(5, 1<<15, func(ports.Storage) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	vol := mmap.NewVolume(t.TempDir())
	link := vol.Path(5)
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real.Path(5), link); err != nil {
		t.Fatal(err)
	}
	err, took := openBounded(t, "Open", func() error { _, err := vol.Open(5); return err })
	if !errors.Is(err, mmap.ErrSymlink) || !strings.Contains(err.Error(), link) {
		t.Errorf("Open of a channel link: %v, want ErrSymlink naming %s", err, link)
	}
	t.Logf("Open: %v in %v", err, took)
	if _, err := vol.OpenForWrite(5); !errors.Is(err, mmap.ErrSymlink) {
		t.Errorf("OpenForWrite of a channel link: %v, want ErrSymlink", err)
	}
	if ids, err := vol.List(); err != nil || len(ids) != 0 {
		t.Errorf("List = %v, %v; want no channels", ids, err)
	}
	if err := vol.Remove(5); err != nil {
		t.Errorf("Remove of a channel link: %v", err)
	}
	if _, err := os.Lstat(link); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the link is still there: %v", err)
	}
	if _, err := real.Open(5); err != nil {
		t.Errorf("the channel the link named: %v", err)
	}
}
