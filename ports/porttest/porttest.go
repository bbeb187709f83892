package porttest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/kekbit-go/kekbit/ports"
)

// Harness says how to make what the checks run on, and what the backend
// does not offer.
type Harness struct {
	// NewVolume returns a new, empty volume for the test t; it is called
	// once per subtest. Required.
	NewVolume func(t *testing.T) ports.Volume
	// ReadOnlyOpen says that the storages Volume.Open returns refuse
	// WriteAt and StoreUint64 with an error matching fs.ErrPermission, and
	// change nothing (the mmap and file backends). When false, writes
	// through them are not checked at all.
	ReadOnlyOpen bool
	// NoLiveness says that the backend cannot tell whether a channel's
	// writer is alive, although its storages implement ports.Liveness (say,
	// a type shared with a backend that can). The Liveness checks then
	// accept an error from WriterAlive ("cannot tell"), but still fail a
	// wrong answer: a storage that implements ports.Liveness tells the
	// truth or says it cannot. Without NoLiveness, WriterAlive must answer.
	NoLiveness bool
	// SkipChannelErrors skips the check that the errors of the Volume's
	// methods are *ports.ChannelError values naming the right channel and
	// its path once (subtest Volume/ChannelError). It is for backends not
	// yet there; a conforming backend leaves it false.
	SkipChannelErrors bool
	// RemoveNeedsClosed says that Remove and RemoveAbandoned fail, with a
	// *ports.ChannelError and nothing removed, while any storage of the
	// channel is open (the mmap backend on Windows, which removes no file
	// that is open). The checks then close the storages before removing.
	RemoveNeedsClosed bool
}

// minChannelFileSize is the size of the smallest channel file the domain
// makes. It mirrors the format (1.0.0) rather than importing the domain: a
// 1024-byte header block, the smallest data region, 16 KiB, and the 32-byte
// footer.
const minChannelFileSize = 1024 + 16*1024 + 32

// Sizes are the storage sizes the Storage checks run with: one that is not
// a multiple of 8, and that of the smallest channel file of the format
// (17440 bytes).
var Sizes = []int64{100, minChannelFileSize}

// Run checks h's volumes and their storages against every contract of
// package ports, the base methods and the optional abilities, each in a
// named subtest of t (see the package documentation for the list). A check
// of an ability the backend does not offer is skipped; every misbehaviour
// found is reported.
func Run(t *testing.T, h Harness) {
	if h.NewVolume == nil {
		t.Fatal("porttest: Harness.NewVolume is nil")
	}
	for _, size := range Sizes {
		t.Run(fmt.Sprintf("Storage/size=%d", size), func(t *testing.T) { testStorage(t, h, size) })
	}
	t.Run("Volume", func(t *testing.T) { testVolume(t, h) })
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

// tryOpen opens channel id of vol, closes what it got and returns the
// error.
func tryOpen(vol ports.Volume, id uint64) error {
	st, err := vol.Open(id)
	if st != nil {
		st.Close()
	}
	return err
}

// role is one storage of a channel and what to call it in messages.
type role struct {
	name string // "writer's" or "reader's"
	st   ports.Storage
}

// both returns the writer's storage w and the reader's r as roles.
func both(w, r ports.Storage) []role { return []role{{"writer's", w}, {"reader's", r}} }

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
func le(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

// nativeToLE returns the value of a native-endian word's bytes read as a
// little-endian word: Words()[i] against LoadUint64(8*i).
func nativeToLE(v uint64) uint64 {
	return binary.LittleEndian.Uint64(binary.NativeEndian.AppendUint64(nil, v))
}
