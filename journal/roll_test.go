package journal_test

import (
	"errors"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/journal"
	"github.com/kekbit-go/kekbit/ports"
)

// failingVolume fails the first Creates of one channel id, as a full disk
// would.
type failingVolume struct {
	*memory.Volume
	id    uint64
	fails atomic.Int32
}

func (v *failingVolume) Create(id uint64, size int64, init func(ports.Storage) error) (ports.Storage, error) {
	if id == v.id && v.fails.Add(-1) >= 0 {
		return nil, &ports.ChannelError{Op: "create", ChannelID: id, Err: syscall.ENOSPC}
	}
	return v.Volume.Create(id, size, init)
}

// TestRollFailure: when the next segment cannot be made, Write fails with
// ErrRoll (the system's error inside), nothing is written, and the writer
// goes on once it can be made.
func TestRollFailure(t *testing.T) {
	vol := &failingVolume{Volume: memory.NewVolume(), id: 1}
	vol.fails.Store(1) // the background prepare: the roll meets its error
	w, err := journal.OpenWriter(vol, codecs.Raw{}, journal.WithSegmentSize(16384))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	i := 0
	for ; ; i++ {
		_, err := w.Write(payload(i))
		if err == nil {
			continue
		}
		if !errors.Is(err, journal.ErrRoll) || !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("write %d: %v, want ErrRoll with ENOSPC", i, err)
		}
		break
	}
	if w.Segment() != 0 || w.NextSeq() != uint64(i) {
		t.Fatalf("after the failed roll: segment %d, next seq %d, want 0 and %d", w.Segment(), w.NextSeq(), i)
	}
	// The disk has room again.
	write(t, w, i, i+500)
	if w.Segment() < 1 {
		t.Fatal("no roll after the disk had room again")
	}
	r, _ := journal.OpenReader(vol)
	defer r.Close()
	if n, err := readAll(t, r, 0); n != i+500 || err != journal.ErrNothingYet {
		t.Fatalf("read %d, %v; want %d", n, err, i+500)
	}
}
