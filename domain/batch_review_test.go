package domain_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/internal/channeltest"
)

// Tests from a review of WriteBatch: each failed before its fix.

// staleBatchSlot makes, on channel id of vol, a writer D that wrote a
// batch of 2 records and died as its next claim began: it had stored the
// new claim's size word (10 records, 640 bytes), not yet its claim word.
// It returns D's slot.
func staleBatchSlot(t *testing.T, vol *memory.Volume, id uint64) int {
	t.Helper()
	st, d := joinStorage(t, vol, id)
	if n, err := d.WriteBatch([][]byte{channeltest.Tagged(1, 0, 16), channeltest.Tagged(1, 1, 16)}); n != 2 || err != nil {
		t.Fatal(n, err)
	}
	atomic.StoreUint64(&st.(*memory.Storage).Words()[(domain.SlotsOffset+domain.SlotLen*d.Slot())/8+2], 640|9<<32)
	st.Close()
	return d.Slot()
}

// TestWriteBatchStaleSlotJoiner: a joiner that takes the slot of a writer
// that died as in staleBatchSlot leaves the live claim after that
// writer's batch alone (a published batch's slot is state 1 again; it
// stayed state 2, and with the new size word the joiner walked past the
// batch and voided the live claim).
func TestWriteBatchStaleSlotJoiner(t *testing.T) {
	vol := memory.NewVolume()
	a, err := domain.Create(vol, multiHeader(t, 41, 1<<16, domain.EnvelopeAll), codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	words := mustOpenForWrite(t, vol, 41).Words()
	dead := staleBatchSlot(t, vol, 41)
	apos := (atomic.LoadUint64(&words[domain.TailOffset/8]) & (1<<32 - 1)) * 8
	p, err := a.Claim(20) // A's live claim, right after D's batch
	if err != nil {
		t.Fatal(err)
	}
	copy(p, channeltest.Tagged(0, 0, 20))
	var joined []*domain.Writer[[]byte]
	for took := false; !took; {
		e, err := domain.Join(vol, 41, codecs.Raw{})
		if err != nil {
			t.Fatalf("join: %v", err)
		}
		joined, took = append(joined, e), e.Slot() == dead
	}
	for _, e := range joined {
		e.Release()
	}
	if w := atomic.LoadUint64(&words[(domain.DataOffset+apos)/8]); w != domain.Watermark {
		t.Errorf("live writer A's open claim at %d: length word %#x, want the watermark", apos, w)
	}
	if _, err := a.Commit(20); err != nil {
		t.Fatal(err)
	}
	r, err := domain.Open(vol, 41)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var c channeltest.Order
	if _, err := r.Read(func(rec domain.Record) error { return c.Add(rec.Payload) }, 0); c.Total != 3 {
		t.Errorf("read %d records (%v), want D's 2 and A's", c.Total, err)
	}
}

// TestWriteBatchStaleSlotReader: the same dead writer; then Y claims and
// dies, and A, alive, claims after Y. A reader waiting at Y's claim voids
// Y's claim only, not A's.
func TestWriteBatchStaleSlotReader(t *testing.T) {
	vol := memory.NewVolume()
	a, err := domain.Create(vol, multiHeader(t, 42, 1<<16, domain.EnvelopeAll), codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	words := mustOpenForWrite(t, vol, 42).Words()
	staleBatchSlot(t, vol, 42)
	yst, y := joinStorage(t, vol, 42)
	if _, err := y.Claim(20); err != nil {
		t.Fatal(err)
	}
	yst.Close() // Y dies with its claim
	apos := (atomic.LoadUint64(&words[domain.TailOffset/8]) & (1<<32 - 1)) * 8
	p, err := a.Claim(20)
	if err != nil {
		t.Fatal(err)
	}
	copy(p, channeltest.Tagged(0, 0, 20))
	r, err := domain.Open(vol, 42, domain.WithClaimBound(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var c channeltest.Order
	err = r.Follow(ctx, func(rec domain.Record) error { return c.Add(rec.Payload) })
	if w := atomic.LoadUint64(&words[(domain.DataOffset+apos)/8]); w != domain.Watermark {
		t.Errorf("live writer A's open claim at %d: length word %#x, want the watermark", apos, w)
	}
	if c.Total != 2 {
		t.Errorf("follow: %v after %d records, want D's 2 (then A's open claim holds the reader)", err, c.Total)
	}
}

// TestWriteBatchErrorsAreWrites: Write's and WriteBatch's errors for a
// value too large, an empty one and nil are the same, word for word, on
// single and multi-writer channels, and on a channel another writer
// closed.
func TestWriteBatchErrorsAreWrites(t *testing.T) {
	for _, multi := range []bool{false, true} {
		for _, v := range [][]byte{make([]byte, 1000), {}, nil} {
			var got [2]string
			for k := range 2 {
				vol := memory.NewVolume()
				h, err := domain.NewHeader(domain.Hints{WriterID: 9, ChannelID: 1, Capacity: 1 << 16, MaxMsgLen: 200, Timeout: 2000, TickUnit: domain.Millis, MultiWriter: multi})
				if err != nil {
					t.Fatal(err)
				}
				w, err := domain.Create(vol, h, codecs.Raw{})
				if err != nil {
					t.Fatal(err)
				}
				if k == 0 {
					_, err = w.Write(v)
				} else {
					_, err = w.WriteBatch([][]byte{v})
				}
				got[k] = fmt.Sprint(err)
				w.Release()
			}
			if got[0] != got[1] || got[0] == "<nil>" {
				t.Errorf("multi=%v, %d bytes: Write: %s; WriteBatch: %s", multi, len(v), got[0], got[1])
			}
		}
	}
	vol := memory.NewVolume()
	a, err := domain.Create(vol, multiHeader(t, 44, 1<<16, 0), codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := domain.Join(vol, 44, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	a.Close()
	for _, v := range [][]byte{{}, []byte("x")} {
		_, e1 := b.Write(v)
		_, e2 := b.WriteBatch([][]byte{v})
		if fmt.Sprint(e1) != fmt.Sprint(e2) || e1 == nil {
			t.Errorf("closed channel, %d bytes: Write: %v; WriteBatch: %v", len(v), e1, e2)
		}
	}
}

// TestWriteBatchRefusedFirstValue: a WriteBatch whose first value is
// refused claims nothing, so a writer Y's dead claim at the tail after it
// is repaired as any (a claim of no records once won a swap of the tail
// to itself and left a state-2 slot there, and readers then waited at
// Y's claim for good), whether the refusing writer lives or died.
func TestWriteBatchRefusedFirstValue(t *testing.T) {
	for _, wDies := range []bool{false, true} {
		vol := memory.NewVolume()
		a, err := domain.Create(vol, multiHeader(t, 43, 1<<16, domain.EnvelopeAll), codecs.Raw{})
		if err != nil {
			t.Fatal(err)
		}
		wst, w := joinStorage(t, vol, 43)
		if n, err := w.WriteBatch([][]byte{{}}); n != 0 || err == nil {
			t.Fatalf("WriteBatch of an empty value: %d, %v", n, err)
		}
		yst, y := joinStorage(t, vol, 43)
		if _, err := y.Claim(20); err != nil {
			t.Fatal(err)
		}
		yst.Close() // Y dies with its claim
		if wDies {
			wst.Close()
		}
		if _, err := a.Write(channeltest.Tagged(0, 0, 20)); err != nil {
			t.Fatal(err)
		}
		r, err := domain.Open(vol, 43, domain.WithClaimBound(5*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		var c channeltest.Order
		err = r.Follow(ctx, func(rec domain.Record) error {
			if err := c.Add(rec.Payload); err != nil {
				return err
			}
			return errStop
		})
		cancel()
		if c.Total != 1 {
			t.Errorf("the refusing writer dead: %v: follow: %v after %d records, want A's record past Y's dead claim", wDies, err, c.Total)
		}
		r.Close()
		a.Release()
		if !wDies {
			w.Release()
		}
	}
}
