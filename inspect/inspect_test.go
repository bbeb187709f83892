//go:build unix

package inspect_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/inspect"
	"github.com/kekbit-go/kekbit/journal"
	"github.com/kekbit-go/kekbit/journal/positions"
)

func header(t testing.TB, id uint64, env domain.Envelope) domain.Header {
	t.Helper()
	h, err := domain.NewHeader(domain.Hints{ChannelID: id, Capacity: 1 << 18, MaxMsgLen: 128, Timeout: 60, TickUnit: domain.Nanos, Envelope: env})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// write makes channel id in vol with n records of 40 bytes, and leaves it
// as end says: "live" (the writer returned, still open), "closed",
// "abandoned" (released), "full".
func write(t *testing.T, vol *mmap.Volume, id uint64, env domain.Envelope, n int, end string) *domain.Writer[[]byte] {
	t.Helper()
	w, err := domain.Create(vol, header(t, id, env), codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 40)
	for i := 0; i < n || end == "full"; i++ {
		if _, err := w.Write(data); err != nil {
			if end == "full" {
				break
			}
			t.Fatal(err)
		}
	}
	switch end {
	case "closed", "full":
		w.Close()
	case "abandoned":
		w.Release()
	case "live":
		t.Cleanup(func() { w.Close() })
	}
	return w
}

// TestInspect: every state a channel can be in under a root, with its
// write position and records as the writers left them, the progress mark
// making an enveloped channel's snapshot a short walk; what is not a
// channel is listed invalid with its reason; a journal in a subfolder with
// two named readers, one caught up and one behind, and their lag.
func TestInspect(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	vol := mmap.NewVolume(root)
	live := write(t, vol, 1, 0, 100, "live")
	liveEnv := write(t, vol, 2, domain.EnvelopeAll, 3000, "live")
	write(t, vol, 3, domain.EnvelopeAll, 10, "closed")
	write(t, vol, 4, 0, 10, "abandoned")
	full := write(t, vol, 5, 0, 0, "full")
	fifo := vol.Path(6)
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}

	// A journal in a subfolder, with a reader that read everything and
	// one that read 100 records.
	dir := filepath.Join(root, "orders")
	jvol := mmap.NewVolume(dir)
	store := positions.NewMapped(filepath.Join(dir, "readers"))
	jw, err := journal.OpenWriter(jvol, codecs.Raw{}, journal.WithSegmentSize(1<<15), journal.WithPositions(store))
	if err != nil {
		t.Fatal(err)
	}
	defer jw.Close()
	const total = 1000
	rec := make([]byte, 90)
	for range total {
		if _, err := jw.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	readTo := func(name string, n int) {
		r, err := journal.OpenReader(jvol, journal.WithName(store, name))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if got, err := r.Read(func(journal.Record) error { return nil }, n); got != n {
			t.Fatalf("reader %s read %d records, %v", name, got, err)
		}
		if err := r.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	readTo("billing", total)
	readTo("audit", 100)

	s, err := inspect.Inspect(root)
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint64]struct {
		state, writer string
		records       uint64
		written       uint64
	}{
		1: {"live", "alive", 100, uint64(live.WriteOffset())},
		2: {"live", "alive", 3000, uint64(liveEnv.WriteOffset())},
		3: {"closed", "gone", 10, 0},
		4: {"abandoned", "gone", 10, 0},
		5: {"full", "gone", full.Records(), uint64(full.WriteOffset())},
		6: {"invalid", "unknown", 0, 0},
	}
	seen := 0
	for _, c := range s.Channels {
		if filepath.Dir(filepath.Dir(c.Path)) != root {
			continue // the journal's segments
		}
		seen++
		w, ok := want[c.ID]
		if !ok {
			t.Errorf("channel %d listed: %+v", c.ID, c)
			continue
		}
		if c.State != w.state || c.Writer != w.writer || c.Records != w.records || w.written != 0 && c.Written != w.written {
			t.Errorf("channel %d: %+v; want state %s, writer %s, %d records, written %d", c.ID, c, w.state, w.writer, w.records, w.written)
		}
		if c.ID == 6 && c.Err == nil {
			t.Errorf("the FIFO is listed without a reason")
		}
		if c.ID == 2 && c.Walked > 1024*domain.RecordSize(40+24) {
			t.Errorf("the enveloped live channel cost a walk of %d bytes", c.Walked)
		}
	}
	if seen != len(want) {
		t.Errorf("%d channels of the root listed, want %d", seen, len(want))
	}
	if len(s.Journals) != 1 {
		t.Fatalf("%d journals, want 1: %+v", len(s.Journals), s.Journals)
	}
	j := s.Journals[0]
	if j.Dir != dir || j.ID != jw.JournalID().String() || j.NextSeq != total || j.Records != total || len(j.Segments) < 2 || j.State != "live" || j.Writer != "alive" {
		t.Fatalf("journal %+v", j)
	}
	lags := map[string]inspect.Reader{}
	for _, r := range j.Readers {
		lags[r.Name] = r
	}
	if b := lags["billing"]; b.Err != nil || b.LagRecords != 0 || b.LagBytes != 0 {
		t.Errorf("billing read everything: %+v", b)
	}
	if a := lags["audit"]; a.Err != nil || a.LagRecords != total-100 || a.LagBytes == 0 || a.LagBytes > j.Written {
		t.Errorf("audit read 100 of %d: %+v", total, a)
	}
}

// TestInspectHostileRoot: a root another user could write, or that is not
// there, fails Inspect as a whole; a root that does not exist holds
// nothing.
func TestInspectHostileRoot(t *testing.T) {
	s, err := inspect.Inspect(filepath.Join(t.TempDir(), "none"))
	if err != nil || len(s.Channels) != 0 {
		t.Fatalf("a missing root: %+v, %v", s, err)
	}
	open := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(open, 0o777)
	if _, err := inspect.Inspect(open); err == nil {
		t.Fatal("a world-writable root was inspected")
	}
}

// TestInspectSubfoldersNotFollowed: a symbolic link under the root to
// another folder's journal, and a subfolder others may write, are not
// inspected: only real, trusted journal folders are.
func TestInspectSubfoldersNotFollowed(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "root")
	elsewhere := filepath.Join(base, "elsewhere")
	for _, dir := range []string{elsewhere, filepath.Join(root, "open")} {
		jw, err := journal.OpenWriter(mmap.NewVolume(dir), codecs.Raw{}, journal.WithSegmentSize(1<<15))
		if err != nil {
			t.Fatal(err)
		}
		jw.Write([]byte("x"))
		jw.Close()
	}
	if err := os.Chmod(filepath.Join(root, "open"), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, filepath.Join(root, "linked")); err != nil {
		t.Fatal(err)
	}
	s, err := inspect.Inspect(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range s.Journals {
		t.Errorf("journal inspected in %s", j.Dir)
	}
	for _, c := range s.Channels {
		t.Errorf("channel inspected at %s", c.Path)
	}
	// The same journal in a trusted folder is seen.
	if s, err := inspect.Inspect(base); err != nil || len(s.Journals) != 1 || s.Journals[0].Dir != elsewhere {
		t.Fatalf("the trusted journal folder: %+v, %v", s, err)
	}
}

// TestInspectReadersLinkNotFollowed: a journal whose readers folder is a
// planted link to another folder's positions lists no readers.
func TestInspectReadersLinkNotFollowed(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "root")
	dir := filepath.Join(root, "orders")
	other := filepath.Join(base, "other-readers")
	store := positions.NewMapped(other)
	jw, err := journal.OpenWriter(mmap.NewVolume(dir), codecs.Raw{}, journal.WithSegmentSize(1<<15), journal.WithPositions(store))
	if err != nil {
		t.Fatal(err)
	}
	defer jw.Close()
	jw.Write([]byte("x"))
	r, err := journal.OpenReader(mmap.NewVolume(dir), journal.WithName(store, "planted"))
	if err != nil {
		t.Fatal(err)
	}
	r.Read(func(journal.Record) error { return nil }, 1)
	r.Commit()
	r.Close()
	if err := os.Symlink(other, filepath.Join(dir, "readers")); err != nil {
		t.Fatal(err)
	}
	s, err := inspect.Inspect(root)
	if err != nil || len(s.Journals) != 1 {
		t.Fatalf("%+v, %v", s, err)
	}
	if rs := s.Journals[0].Readers; len(rs) != 0 {
		t.Fatalf("readers listed through a linked readers folder: %+v", rs)
	}
}
