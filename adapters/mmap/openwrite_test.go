package mmap_test

import (
	"errors"
	"os"
	"runtime"
	"testing"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/internal/testdir"
	"github.com/kekbit-go/kekbit/ports"
)

// TestOpenForWriteResumes: a writer whose storage went away without a
// close mark (as when its process dies) is carried on by a new writer;
// readers see one channel.
func TestOpenForWriteResumes(t *testing.T) {
	root := testdir.New(t)
	vol := mmap.NewVolume(root)
	h := owHeader(t, 0x1_0000_0007, 16384)
	var st ports.Storage
	w, err := domain.Create(vol, h, codecs.Text{})
	if err != nil {
		t.Fatal(err)
	}
	w.Write("one")
	w.Heartbeat()
	w.Write("two")
	end := w.WriteOffset()

	if _, err := vol.OpenForWrite(h.ChannelID); !errors.Is(err, mmap.ErrWriterAlive) {
		t.Fatalf("OpenForWrite while the writer is alive: %v", err)
	}
	if err := w.Release(); err != nil {
		t.Fatal(err)
	}
	r, rst := owOpenReader(t, vol, h.ChannelID)
	defer r.Close()
	if alive, err := rst.WriterAlive(); alive || err != nil {
		t.Fatalf("after Release: alive %v, %v", alive, err)
	}

	ro, err := vol.Open(h.ChannelID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := domain.Resume(ro, codecs.Text{}); !errors.Is(err, domain.ErrReadOnlyStorage) {
		t.Fatalf("Resume on a reader's storage: %v", err)
	}
	ro.Close()
	st, err = vol.OpenForWrite(h.ChannelID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vol.OpenForWrite(h.ChannelID); !errors.Is(err, mmap.ErrWriterAlive) {
		t.Fatalf("second OpenForWrite: %v", err)
	}
	if alive, err := rst.WriterAlive(); !alive || err != nil {
		t.Fatalf("after OpenForWrite: alive %v, %v", alive, err)
	}
	w2, err := domain.Resume(st, codecs.Text{})
	if err != nil {
		t.Fatal(err)
	}
	if w2.WriteOffset() != end {
		t.Fatalf("resumed at %d, want %d", w2.WriteOffset(), end)
	}
	w2.Write("three")
	if err := w2.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := owReadAll(t, r)
	if !errors.Is(err, domain.ErrClosed) || len(got) != 3 || got[0] != "one" || got[1] != "two" || got[2] != "three" {
		t.Fatalf("read %q, %v", got, err)
	}
	// Closed now: a writer may lock it, but Resume refuses it.
	st, err = vol.OpenForWrite(h.ChannelID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := domain.Resume(st, codecs.Text{}); !errors.Is(err, domain.ErrClosed) {
		t.Fatalf("Resume on a closed channel: %v", err)
	}
	st.Close()
}

// TestOpenForWriteAfterStorageClosed: closing a writer's storage without
// the close mark (what the kernel does for a killed process) releases it.
func TestOpenForWriteAfterStorageClosed(t *testing.T) {
	dir := testdir.New(t)
	path := dir + "/chan.kekbit"
	h := owHeader(t, 9, 16384)
	var writerStorage ports.Storage
	var w *domain.Writer[[]byte]
	_, err := mmap.CreateFile(path, h.FileSize(), func(st ports.Storage) error {
		writerStorage = st
		var err error
		w, err = domain.NewWriter(st, h, codecs.Raw{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("kept"))
	if _, err := mmap.OpenForWrite(path); !errors.Is(err, mmap.ErrWriterAlive) {
		t.Fatalf("OpenForWrite while the writer is alive: %v", err)
	}
	writerStorage.Close() // the writer "dies"
	st, err := mmap.OpenForWrite(path)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Writable() {
		t.Fatal("not writable")
	}
	w2, err := domain.Resume(st, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	if w2.WriteOffset() != 24 {
		t.Fatalf("resumed at %d", w2.WriteOffset())
	}
	w2.Close()
}

func TestOpenForWriteRefuses(t *testing.T) {
	root := testdir.New(t)
	vol := mmap.NewVolume(root)
	if _, err := vol.OpenForWrite(5); !errors.Is(err, ports.ErrChannelNotFound) {
		t.Fatalf("missing channel: %v", err)
	}
	h := owHeader(t, 5, 16384)
	w, err := domain.Create(vol, h, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	w.Release()
	lock := mmap.LockPath(vol.Path(5))
	if err := os.WriteFile(lock, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := vol.OpenForWrite(5); !errors.Is(err, ports.ErrChannelNotReady) {
		t.Fatalf("lock file present: %v", err)
	}
	os.Remove(lock)
	if err := os.Chmod(vol.Path(5), 0o444); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 && runtime.GOOS != "windows" { // root writes anyway; so does Wine
		if _, err := vol.OpenForWrite(5); err == nil || !errors.Is(err, os.ErrPermission) {
			t.Fatalf("read-only file: %v", err)
		}
	}
}

func owHeader(t *testing.T, id uint64, capacity uint32) domain.Header {
	t.Helper()
	h, err := domain.NewHeader(domain.Hints{WriterID: 1, ChannelID: id, Capacity: capacity, MaxMsgLen: 1000, Timeout: 99_999_999_999, TickUnit: domain.Nanos})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func owOpenReader(t *testing.T, vol *mmap.Volume, id uint64) (*domain.Reader, *mmap.Storage) {
	t.Helper()
	st, err := vol.Open(id)
	if err != nil {
		t.Fatal(err)
	}
	r, err := domain.NewReader(st)
	if err != nil {
		t.Fatal(err)
	}
	return r, st.(*mmap.Storage)
}

func owReadAll(t *testing.T, r *domain.Reader) ([]string, error) {
	t.Helper()
	var got []string
	_, err := r.Read(func(rec domain.Record) error { p := rec.Payload; got = append(got, string(p)); return nil }, 0)
	return got, err
}
