//go:build linux

package mmap_test

import (
	"context"
	"encoding/binary"
	"os"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/internal/testdir"
)

// TestPlantedBatchSlotOnShortFile (Linux: multi-writer channels need its
// byte-range locks): a planted multi-writer channel file cut
// short (2 KiB of its 64 KiB data region) whose slot 0 says a batch whose
// swap won (state 2) of 10 records in 8000 bytes from position 8, with
// words of 500 (a length at most the max) at 8, 520, 1032 and 1544. A
// reader waiting past its bound at the claim walks it: it must stop at the
// file's end, not index past the mapped words (it panicked, index out of
// range), and end the follow as the channel is: nothing more to read.
func TestPlantedBatchSlotOnShortFile(t *testing.T) {
	dir := testdir.New(t)
	vol := mmap.NewVolume(dir)
	h, err := domain.NewHeader(domain.Hints{WriterID: 9, ChannelID: 5, Capacity: 1 << 16, MaxMsgLen: 4096,
		Timeout: 2000, TickUnit: domain.Millis, MultiWriter: true})
	if err != nil {
		t.Fatal(err)
	}
	w, err := domain.Create(vol, h, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 40)
	binary.LittleEndian.PutUint64(p, 500) // the word at position 8: a hop of 512
	if _, err := w.Write(p); err != nil {
		t.Fatal(err)
	}
	if err := w.Release(); err != nil {
		t.Fatal(err)
	}
	path := mmap.ChannelPath(dir, 5)
	img, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	le.PutUint64(img[domain.TailOffset:], 1<<32|1000/8)   // claimed up to 1000
	le.PutUint64(img[domain.SlotsOffset+8:], 2<<62|8/8)   // slot 0: state 2, from position 8
	le.PutUint64(img[domain.SlotsOffset+16:], 8000|9<<32) // 8000 bytes, 10 records
	for _, q := range []int{520, 1032, 1544} {            // hops of 512 bytes, to 2056
		le.PutUint64(img[domain.DataOffset+q:], 500)
	}
	if err := os.WriteFile(path, img[:domain.DataOffset+2048], 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := domain.Open(vol, 5, domain.WithClaimBound(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer func() {
		if e := recover(); e != nil {
			t.Fatalf("the reader panics: %v", e)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	n := 0
	err = r.Follow(ctx, func(domain.Record) error { n++; return nil })
	if n != 1 || err == nil {
		t.Errorf("follow: %v after %d records, want the one record and an end", err, n)
	}
	t.Logf("follow: %v after %d records", err, n)
}
