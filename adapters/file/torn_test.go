package file_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/afero"

	"github.com/kekbit-go/kekbit/adapters/file"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/internal/channeltest"
)

// tornFs is a file system whose files, once armed, make the next 8-byte
// read at one offset see the first byte of the word there before a write
// (the watermark's 0x11) and the rest after: a read that straddled the
// write of a length word.
type tornFs struct {
	afero.Fs
	at     atomic.Int64 // the offset to tear, -1 for none
	always atomic.Bool  // every 8-byte read sees a new value: a word someone keeps writing
	reads  atomic.Int64 // 8-byte reads while always
	// stuck reads of the word at stuckAt see its first byte new and the
	// rest the watermark's: a write stopped half way for that long; then
	// stuck4 reads see its first 4 bytes new: stopped again.
	stuckAt, stuck, stuck4 atomic.Int64
}

type tornFile struct {
	afero.File
	fs *tornFs
}

func (f *tornFs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	file, err := f.Fs.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return tornFile{file, f}, nil
}

func (f *tornFs) Open(name string) (afero.File, error) { return f.OpenFile(name, os.O_RDONLY, 0) }

func (f tornFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.File.ReadAt(p, off)
	if len(p) == 8 && n == 8 && f.fs.always.Load() {
		p[7] = byte(f.fs.reads.Add(1))
	}
	if len(p) == 8 && n == 8 && off == f.fs.stuckAt.Load() {
		w := binary.LittleEndian.Uint64(p)
		if f.fs.stuck.Add(-1) >= 0 {
			binary.LittleEndian.PutUint64(p, domain.Watermark&^0xFF|w&0xFF)
		} else if f.fs.stuck4.Add(-1) >= 0 {
			binary.LittleEndian.PutUint64(p, domain.Watermark&^0xFFFFFFFF|w&0xFFFFFFFF)
		}
	}
	if len(p) == 8 && n == 8 && f.fs.at.CompareAndSwap(off, -1) {
		p[0] = byte(domain.Watermark & 0xFF)
	}
	return n, err
}

// TestTornLengthWord: a reader whose read of a record's length word is
// torn (42 read as 17: the watermark's first byte, the new word's rest)
// still hands out the record whole, because a word is read until two
// reads agree. Before, it handed out the first 17 bytes of the record as
// a record, what TestFollowLive once saw on OsFs under load.
func TestTornLengthWord(t *testing.T) {
	fsys := &tornFs{Fs: afero.NewMemMapFs()}
	fsys.at.Store(-1)
	vol := file.NewVolume(fsys, "/r")
	w, err := domain.Create(vol, channeltest.Header(t, 3, 1<<16), codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	r, err := domain.Open(vol, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	payload := bytes.Repeat([]byte{8}, 42)
	if _, err := w.Write(payload); err != nil {
		t.Fatal(err)
	}
	fsys.at.Store(domain.DataOffset + domain.RecordHeaderLen) // the record's length word, after the first heartbeat
	var got [][]byte
	_, err = r.Read(func(rec domain.Record) error { got = append(got, bytes.Clone(rec.Payload)); return nil }, 0)
	if !errors.Is(err, domain.ErrNothingYet) && err != nil {
		t.Fatal(err)
	}
	if fsys.at.Load() != -1 {
		t.Fatal("the length word's read was not torn: the test tests nothing")
	}
	if len(got) != 1 || !bytes.Equal(got[0], payload) {
		t.Fatalf("read %d records, the first %d bytes; want the one of 42", len(got), len(got[0]))
	}
}

// TestStoppedLengthWord: a reader whose reads of a record's length word
// see the write stopped half way (its first byte new, the rest the
// watermark's), several reads in a row, waits for the word to change and
// hands out the record; before, it called the channel corrupt there
// (TestFollowLive on OsFs once read 0xffffffff11111128 twice). So too for
// a write seen stopped twice (1 byte new, then 4). A word that stays so
// is ErrCorrupt, after a wait of about 100 ms.
func TestStoppedLengthWord(t *testing.T) {
	for _, c := range []struct {
		stuck, stuck4 int64
		corrupt       bool
	}{{2, 0, false}, {6, 0, false}, {4, 4, false}, {1 << 20, 0, true}} {
		fsys := &tornFs{Fs: afero.NewMemMapFs()}
		fsys.at.Store(-1)
		fsys.stuckAt.Store(-1)
		vol := file.NewVolume(fsys, "/r")
		w, err := domain.Create(vol, channeltest.Header(t, 3, 1<<16), codecs.Raw{})
		if err != nil {
			t.Fatal(err)
		}
		r, err := domain.Open(vol, 3)
		if err != nil {
			t.Fatal(err)
		}
		payload := bytes.Repeat([]byte{8}, 42)
		if _, err := w.Write(payload); err != nil {
			t.Fatal(err)
		}
		fsys.stuck.Store(c.stuck)
		fsys.stuck4.Store(c.stuck4)
		fsys.stuckAt.Store(domain.DataOffset + domain.RecordHeaderLen) // the record's length word
		var got [][]byte
		start := time.Now()
		_, err = r.Read(func(rec domain.Record) error { got = append(got, bytes.Clone(rec.Payload)); return nil }, 0)
		took := time.Since(start)
		if c.corrupt {
			var re *domain.ReadError
			if !errors.As(err, &re) || !errors.Is(err, domain.ErrCorrupt) || re.Word != domain.Watermark&^0xFF|42 || len(got) != 0 {
				t.Errorf("a word stopped half way for good: %v after %d records, want ErrCorrupt with the word 0x%x", err, len(got), domain.Watermark&^0xFF|42)
			}
			if took < 90*time.Millisecond {
				t.Errorf("a word stopped half way for good was called corrupt after %v, want about 100 ms of waiting first", took)
			}
		} else {
			if err != nil && !errors.Is(err, domain.ErrNothingYet) {
				t.Errorf("%d stopped reads: %v", c.stuck, err)
			}
			if len(got) != 1 || !bytes.Equal(got[0], payload) {
				t.Errorf("%d stopped reads: read %d records; want the one of 42 bytes", c.stuck, len(got))
			}
		}
		if fsys.stuck.Load() > 0 && !c.corrupt {
			t.Errorf("%d stopped reads: only %d of them read", c.stuck, c.stuck-fsys.stuck.Load())
		}
		r.Close()
		w.Close()
	}
}

// TestUnsteadyWord: a word that reads differently every time (a process
// other than the writer keeps writing it) ends the read with
// ErrWordUnsteady naming its offset after 64 reads, instead of reading it
// for ever.
func TestUnsteadyWord(t *testing.T) {
	fsys := &tornFs{Fs: afero.NewMemMapFs()}
	fsys.at.Store(-1)
	vol := file.NewVolume(fsys, "/r")
	w, err := domain.Create(vol, channeltest.Header(t, 4, 1<<16), codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	r, err := domain.Open(vol, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	fsys.always.Store(true)
	_, err = r.Read(func(domain.Record) error { return nil }, 0)
	if !errors.Is(err, file.ErrWordUnsteady) || !strings.Contains(err.Error(), "offset 1024") {
		t.Fatalf("read of a word that never reads the same: %v, want ErrWordUnsteady at offset 1024 (position 0)", err)
	}
	if n := fsys.reads.Load(); n != 64 {
		t.Errorf("%d reads of the word, want 64", n)
	}
}
