//go:build linux || darwin || freebsd

package mmap_test

import (
	"errors"
	"os"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/internal/channeltest"
	"github.com/kekbit-go/kekbit/internal/testdir"
	"github.com/kekbit-go/kekbit/ports"
)

// TestFileCutShortUnderMapping truncates a channel file under live
// mappings: the Storage methods return ErrFault instead of crashing.
func TestFileCutShortUnderMapping(t *testing.T) {
	root := testdir.New(t)
	vol := mmap.NewVolume(root)
	ws, err := vol.Create(8, 64<<10, func(ports.Storage) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	rs, err := vol.Open(8)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	if err := os.Truncate(mmap.ChannelPath(root, 8), 1024); err != nil {
		t.Fatal(err)
	}
	const off = 32 << 10 // pages past the new end of the file
	if _, err := rs.ReadAt(make([]byte, 8), off); !errors.Is(err, mmap.ErrFault) || !errors.Is(err, ports.ErrOutOfRange) {
		t.Fatalf("ReadAt past the cut: %v, want ErrFault", err)
	}
	if _, err := rs.LoadUint64(off); !errors.Is(err, mmap.ErrFault) {
		t.Fatalf("LoadUint64 past the cut: %v, want ErrFault", err)
	}
	if err := ws.StoreUint64(off, 1); !errors.Is(err, mmap.ErrFault) {
		t.Fatalf("StoreUint64 past the cut: %v, want ErrFault", err)
	}
	if _, err := ws.WriteAt([]byte("x"), off); !errors.Is(err, mmap.ErrFault) {
		t.Fatalf("WriteAt past the cut: %v, want ErrFault", err)
	}
	// What is still in the file reads fine.
	if _, err := rs.LoadUint64(512); err != nil {
		t.Fatal(err)
	}
}

// TestReaderSurvivesFileCutShort truncates a channel file under a live
// domain reader: it hands out only whole records and ends with
// ErrTruncated; the process does not crash on the SIGBUS.
func TestReaderSurvivesFileCutShort(t *testing.T) {
	root := testdir.New(t)
	vol := mmap.NewVolume(root)
	w, err := domain.Create(vol, channeltest.Header(t, 11, 64<<10), codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	var want [][]byte
	for i := range 300 {
		p := append([]byte{byte(i)}, make([]byte, 99)...)
		if _, err := w.Write(p); err != nil {
			t.Fatal(err)
		}
		want = append(want, p)
	}
	r, _ := openReader(t, vol, 11)
	// The writer closes first: this one is not guarded (WithFaultGuard), so
	// a store past the cut would crash the process.
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	const cut = 4096 // the first page stays; the data region loses all but 3072 bytes
	if err := os.Truncate(mmap.ChannelPath(root, 11), cut); err != nil {
		t.Fatal(err)
	}
	var got int
	_, err = r.Read(func(rec domain.Record) error {
		pos, p := rec.Position, rec.Payload
		if got >= len(want) || !slices.Equal(p, want[got]) {
			t.Fatalf("record %d at %d: %x", got, pos, p)
		}
		got++
		return nil
	}, 0)
	if !errors.Is(err, domain.ErrTruncated) {
		t.Fatalf("read %d records, ended with %v; want ErrTruncated", got, err)
	}
	t.Logf("%d records, then %v", got, err)
	whole := (cut - 1024 - 8) / 112 // records of 112 bytes after the first heartbeat
	if got < whole || got >= len(want) {
		t.Fatalf("read %d records before the cut, want at least %d", got, whole)
	}
	// The reader stays on the record the fault cut off: a later read (of a
	// file grown back, a copy) resumes there.
	var re *domain.ReadError
	if !errors.As(err, &re) || re.Position != uint64(8+112*got) || r.Position() != re.Position {
		t.Fatalf("ended at %v, reader at %d; want position %d", err, r.Position(), 8+112*got)
	}
	if re.Position+112 <= cut-1024 {
		t.Fatalf("position %d is not the record crossing the cut", re.Position)
	}
}

// TestWriterSurvivesFileCutShort cuts a guarded writer's file short under
// it: Write, Heartbeat and Close past the cut fail with ErrTruncated instead
// of crashing the process.
func TestWriterSurvivesFileCutShort(t *testing.T) {
	root := testdir.New(t)
	vol := mmap.NewVolume(root)
	w, err := domain.Create(vol, channeltest.Header(t, 12, 64<<10), codecs.Raw{}, domain.WithFaultGuard())
	if err != nil {
		t.Fatal(err)
	}
	for range 100 { // to file offset 1024+8+100*112 = 12232, in the fourth page
		if _, err := w.Write(make([]byte, 100)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Truncate(mmap.ChannelPath(root, 12), 4096); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(make([]byte, 100)); !errors.Is(err, domain.ErrTruncated) {
		t.Fatalf("write past the cut: %v", err)
	}
	if _, err := w.Heartbeat(); !errors.Is(err, domain.ErrTruncated) {
		t.Fatalf("heartbeat past the cut: %v", err)
	}
	if w.WriteOffset() != 8+100*112 {
		t.Fatalf("failed writes moved the writer to %d", w.WriteOffset())
	}
	if err := w.Close(); !errors.Is(err, domain.ErrTruncated) {
		t.Fatalf("close past the cut: %v", err)
	}
}

// TestRecordsSurvivesFileCutShort: the Records iterator over a file cut
// short under the reader ends with ErrTruncated, hands out only whole
// records, and lets the loop body's own panics, faults included, through.
func TestRecordsSurvivesFileCutShort(t *testing.T) {
	root := testdir.New(t)
	vol := mmap.NewVolume(root)
	w, err := domain.Create(vol, channeltest.Header(t, 41, 64<<10), codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		if _, err := w.Write(append([]byte{byte(i)}, make([]byte, 99)...)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	open := func() *domain.Reader {
		st, err := vol.Open(41)
		if err != nil {
			t.Fatal(err)
		}
		r, err := domain.NewReader(st)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	cutReader, bodyFault, bodyPanic := open(), open(), open()
	if err := os.Truncate(vol.Path(41), 8192); err != nil {
		t.Fatal(err)
	}

	n := 0
	for rec := range cutReader.Records() {
		pos, p := rec.Position, rec.Payload
		if p[0] != byte(n) || pos != uint64(8+112*n) {
			t.Fatalf("record %d at %d: first byte %d", n, pos, p[0])
		}
		n++
	}
	if !errors.Is(cutReader.Err(), domain.ErrTruncated) || n == 0 || 8+112*(n+1) <= 8192-1024 {
		t.Fatalf("after %d records: %v; want ErrTruncated at the cut", n, cutReader.Err())
	}

	mustPanic := func(name string, body func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Fatalf("%s: the loop body's panic was swallowed", name)
			}
		}()
		body()
	}
	mustPanic("fault in the body", func() {
		for rec := range bodyFault.Records() {
			p := rec.Payload
			p[0] = 'x' // a reader's payload is read-only
		}
	})
	mustPanic("panic in the body", func() {
		for range bodyPanic.Records() {
			panic("the body's own")
		}
	})
}

// setFallocate replaces the package's fallocate for one test.
func setFallocate(t *testing.T, f func(fd int, size int64) error) {
	t.Helper()
	old := *mmap.Fallocate
	*mmap.Fallocate = f
	t.Cleanup(func() { *mmap.Fallocate = old })
}

// The errors a fallocate answers for a full disk and for a file system
// that cannot reserve blocks.
var errDiskFull, errNoFallocate error = unix.ENOSPC, unix.EOPNOTSUPP

// failFallocate makes the package's fallocate fail with err for one test.
func failFallocate(t *testing.T, err error) {
	setFallocate(t, func(int, int64) error { return err })
}

// allocated returns the length of the file at path and the bytes of disk
// allocated to it.
func allocated(t *testing.T, path string) (size, alloc int64) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Size, st.Blocks * 512
}
