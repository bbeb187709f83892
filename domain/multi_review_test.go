package domain_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/internal/channeltest"
)

// hookStorage is a joiner's storage whose SlotHeld runs a hook first: it
// fixes the interleaving of a joiner's findDead scan with a live writer's
// claim.
type hookStorage struct {
	*memory.Storage
	hook func()
}

func (h *hookStorage) SlotHeld(i int) (bool, error) {
	if h.hook != nil {
		f := h.hook
		h.hook = nil
		f()
	}
	return h.Storage.SlotHeld(i)
}

// TestMultiWriterReviewJoinerVoidsLiveClaim: two writers D, E died after storing their
// claim word from tail value tv but before their swap (tail still tv). A
// live writer L (slot scanned earlier) then claims from tv while a joiner
// J scans the slot table in settle: J read L's slot before L's store and
// loads the tail after L's swap, so it takes D's/E's claim for a dead one
// and voids L's live claim.
func TestMultiWriterReviewJoinerVoidsLiveClaim(t *testing.T) {
	const intent = 1 << 62
	vol := memory.NewVolume()
	h := multiHeader(t, 21, 1<<16, domain.EnvelopeAll)
	a, err := domain.Create(vol, h, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Write(channeltest.Tagged(0, 0, 20)); err != nil {
		t.Fatal(err)
	}
	ws := map[int]*domain.Writer[[]byte]{a.Slot(): a}
	sts := map[int]*memory.Storage{}
	for len(ws) < domain.Slots {
		st, w := joinStorage(t, vol, 21)
		ws[w.Slot()], sts[w.Slot()] = w, st.(*memory.Storage)
	}
	L := ws[0]
	if L == a {
		L = ws[1]
	}
	var words []uint64
	for _, st := range sts {
		words = st.Words()
	}
	tail := &words[domain.TailOffset/8]
	tv := atomic.LoadUint64(tail)
	p := (tv & (1<<32 - 1)) * 8
	dsize := domain.RecordSize(24 + 8) // the dead writers meant a small record
	for _, i := range []int{8, 9} {
		if ws[i] == a {
			t.Skip("creator in slot 8/9; rerun")
		}
		slot := (domain.SlotsOffset + domain.SlotLen*i) / 8
		atomic.StoreUint64(&words[slot+2], dsize)
		atomic.StoreUint64(&words[slot+1], intent|tv)
		sts[i].Close() // dies before its swap
	}
	js, err := vol.OpenToJoin(21)
	if err != nil {
		t.Fatal(err)
	}
	var claim []byte
	hs := &hookStorage{Storage: js.(*memory.Storage), hook: func() {
		var err error
		claim, err = L.Claim(100) // L, live, claims from tv now
		if err != nil {
			t.Error(err)
		}
	}}
	J, err := domain.JoinStorage(hs, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	_ = J
	if claim == nil {
		t.Fatal("hook did not run")
	}
	data := words[domain.DataOffset/8:]
	if w := atomic.LoadUint64(&data[p/8]); w != domain.Watermark {
		t.Errorf("L's live claim at %d was voided by the joiner: length word %d while L's claim is open", p, w)
	}
	r, err := domain.Open(vol, 21)
	if err != nil {
		t.Fatal(err)
	}
	var c channeltest.Order
	_, err = r.Read(func(rec domain.Record) error { return c.Add(rec.Payload) }, 0)
	t.Logf("reader before L's commit: %v after %d records, at %d", err, c.Total, r.Position())
	copy(claim, channeltest.Tagged(1, 0, 100))
	if _, err := L.Commit(100); err != nil {
		t.Fatal(err)
	}
	_, err = r.Read(func(rec domain.Record) error { return c.Add(rec.Payload) }, 0)
	if err != nil && !errors.Is(err, domain.ErrNothingYet) {
		t.Errorf("reader after L's commit: %v (after %d records)", err, c.Total)
	}
	if c.Total != 2 {
		t.Errorf("reader got %d records, want 2 (L's record lost)", c.Total)
	}
}

// TestMultiWriterReviewCloseFull: a multi-writer channel filled (the end swap puts the
// tail at the capacity), then closed: Close must not fail or panic, and a
// reader ends "full" (or closed) with every record.
func TestMultiWriterReviewCloseFull(t *testing.T) {
	for _, env := range []domain.Envelope{0, domain.EnvelopeAll} {
		for _, sz := range []int{60, 1, 32, 96, 24} {
			vol := memory.NewVolume()
			h := multiHeader(t, 22, 1<<14, env)
			a, err := domain.Create(vol, h, codecs.Raw{})
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for {
				if _, err := a.Write(make([]byte, sz)); err != nil {
					if !errors.Is(err, domain.ErrChannelFull) {
						t.Fatal(err)
					}
					break
				}
				n++
			}
			err = a.Close()
			t.Logf("env %v size %d: %d records, close: %v", env, sz, n, err)
			r, err := domain.Open(vol, 22)
			if err != nil {
				t.Fatal(err)
			}
			got := 0
			_, err = r.Read(func(rec domain.Record) error { got++; return nil }, 0)
			t.Logf("  read: %v after %d", err, got)
			if got != n {
				t.Errorf("read %d of %d", got, n)
			}
		}
	}
}

// TestMultiWriterReviewCloseRacesClaims: writers claim and commit (some abort) while
// one of them closes; every record committed before its writer saw
// ErrChannelClosed is read, the read ends ErrClosed (or full, if the
// others filled the channel before the close), nothing corrupt.
func TestMultiWriterReviewCloseRacesClaims(t *testing.T) {
	for round := 0; round < 20; round++ {
		vol := memory.NewVolume()
		h := multiHeader(t, 23, 1<<18, domain.EnvelopeAll)
		a, err := domain.Create(vol, h, codecs.Raw{})
		if err != nil {
			t.Fatal(err)
		}
		const n = 4
		ws := []*domain.Writer[[]byte]{a}
		for len(ws) < n {
			w, err := domain.Join(vol, 23, codecs.Raw{})
			if err != nil {
				t.Fatal(err)
			}
			ws = append(ws, w)
		}
		var committed atomic.Int64
		done := make(chan struct{})
		for i, w := range ws[1:] {
			go func() {
				defer func() { done <- struct{}{} }()
				for k := 0; ; k++ {
					p, err := w.Claim(16 + k%40)
					if err != nil {
						if !errors.Is(err, domain.ErrChannelClosed) && !errors.Is(err, domain.ErrChannelFull) {
							t.Error(err)
						}
						return
					}
					if k%7 == 3 {
						w.Abort()
						continue
					}
					copy(p, channeltest.Tagged(uint64(i), uint64(k), 16))
					if _, err := w.Commit(len(p)); err != nil {
						t.Error(err)
						return
					}
					committed.Add(1)
				}
			}()
		}
		full := false // the others may fill the channel first: then it ends full
		for i := 0; i < 200 && !full; i++ {
			if _, err := a.Write([]byte("closer's record")); errors.Is(err, domain.ErrChannelFull) {
				full = true
			} else if err != nil {
				t.Fatal(err)
			} else {
				committed.Add(1)
			}
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		for range ws[1:] {
			<-done
		}
		r, err := domain.Open(vol, 23)
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		_, err = r.Read(func(rec domain.Record) error { got++; return nil }, 0)
		// Full even if the closer never saw it: the others may fill the
		// channel between the closer's last Write and its Close.
		if !errors.Is(err, domain.ErrClosed) && !errors.Is(err, domain.ErrChannelFull) || int64(got) != committed.Load() {
			t.Fatalf("round %d: read %v after %d records, want ErrClosed or ErrChannelFull (the closer saw full: %v) after %d", round, err, got, full, committed.Load())
		}
		for _, w := range ws[1:] {
			w.Release()
		}
	}
}

// TestMultiWriterReviewVoidEveryEnvelope: an aborted claim is a void record the reader
// verifies and skips, for every envelope subset.
func TestMultiWriterReviewVoidEveryEnvelope(t *testing.T) {
	for env := domain.Envelope(0); env <= domain.EnvelopeAll; env++ {
		if env&^domain.EnvelopeAll != 0 {
			continue
		}
		vol := memory.NewVolume()
		h := multiHeader(t, 24, 1<<14, env)
		a, err := domain.Create(vol, h, codecs.Raw{})
		if err != nil {
			t.Fatal(err)
		}
		a.Write([]byte("one"))
		if _, err := a.Claim(50); err != nil {
			t.Fatal(err)
		}
		if err := a.Abort(); err != nil {
			t.Fatal(err)
		}
		a.Write([]byte("two"))
		a.Heartbeat()
		a.Write([]byte("three"))
		a.Close()
		r, err := domain.Open(vol, 24)
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		_, err = r.Read(func(rec domain.Record) error { got++; return nil }, 0)
		if !errors.Is(err, domain.ErrClosed) || got != 3 {
			t.Errorf("env %v: %v after %d", env, err, got)
		}
	}
}

// TestMultiWriterReviewHostileTail: a tail word whose position lies past the file (a
// damaged or hostile file) must give an error, not a panic, on Close.
func TestMultiWriterReviewHostileTail(t *testing.T) {
	vol := memory.NewVolume()
	h := multiHeader(t, 25, 1<<14, domain.EnvelopeAll)
	a, err := domain.Create(vol, h, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := vol.OpenToJoin(25)
	if err != nil {
		t.Fatal(err)
	}
	words := st.(*memory.Storage).Words()
	atomic.StoreUint64(&words[domain.TailOffset/8], (1<<14)/8+1000)
	st.Close()
	defer func() {
		if e := recover(); e != nil {
			t.Fatalf("Close panics: %v", e)
		}
	}()
	t.Logf("write: %v", func() error { _, err := a.Write([]byte("x")); return err }())
	err = a.Close()
	var he *domain.HeaderError
	if !errors.As(err, &he) || he.Field != "multi_writer_tail" {
		t.Fatalf("Close: %v, want a *HeaderError naming the tail", err)
	}
}

// TestMultiWriterReviewCloserDiesAfterClosedBit: the closing writer dies after its swap
// set bit 63 but before the close mark; the other writer's Close leaves
// the channel as it is, so readers never see the close mark.
func TestMultiWriterReviewCloserDiesAfterClosedBit(t *testing.T) {
	vol := memory.NewVolume()
	h := multiHeader(t, 26, 1<<14, domain.EnvelopeAll)
	a, err := domain.Create(vol, h, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	st, d := joinStorage(t, vol, 26)
	a.Write([]byte("one"))
	words := st.(*memory.Storage).Words()
	tail := &words[domain.TailOffset/8]
	atomic.StoreUint64(tail, atomic.LoadUint64(tail)|1<<63) // d's endChannel swap
	st.Close()                                              // d dies before the trailer and close mark
	_ = d
	_, werr := a.Write([]byte("two"))
	cerr := a.Close()
	r, err := domain.Open(vol, 26, domain.WithClaimBound(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err = r.Follow(ctx, func(rec domain.Record) error { got++; return nil })
	t.Logf("a.Write: %v; a.Close: %v; follow: %v after %d", werr, cerr, err, got)
	if !errors.Is(err, domain.ErrClosed) {
		t.Errorf("follow ends with %v, want ErrClosed: the close mark was never stored", err)
	}
}

// TestMultiWriterReviewHostileSlotSize: a dead slot whose size word is too small for a
// void record (8..envLen) on an enveloped channel: the repair must not
// panic.
func TestMultiWriterReviewHostileSlotSize(t *testing.T) {
	const intent = 1 << 62
	for _, size := range []uint64{8, 16, 20, 24} {
		vol := memory.NewVolume()
		h := multiHeader(t, 29, 1<<16, domain.EnvelopeAll)
		a, err := domain.Create(vol, h, codecs.Raw{})
		if err != nil {
			t.Fatal(err)
		}
		st, d := joinStorage(t, vol, 29)
		words := st.(*memory.Storage).Words()
		tail := &words[domain.TailOffset/8]
		tv := atomic.LoadUint64(tail)
		slot := (domain.SlotsOffset + domain.SlotLen*d.Slot()) / 8
		atomic.StoreUint64(&words[slot+2], size)
		atomic.StoreUint64(&words[slot+1], intent|tv)
		atomic.StoreUint64(tail, tv+1<<32+4)
		st.Close()
		a.Write([]byte("after"))
		func() {
			defer func() {
				if e := recover(); e != nil {
					t.Errorf("size %d: reader panics: %v", size, e)
				}
			}()
			r, err := domain.Open(vol, 29, domain.WithClaimBound(time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			err = r.Follow(ctx, func(domain.Record) error { return nil })
			t.Logf("size %d: follow %v", size, err)
		}()
	}
}

// TestMultiWriterReviewHostileBatchSlot: a dead slot in state 2 (a batch
// whose swap won) whose size word claims more records than the rest of
// its claim can hold void records for, once the records published in it
// are walked: a joiner that settles it leaves it alone instead of
// storing void records past the claim, over what follows it (as it did
// before this check).
func TestMultiWriterReviewHostileBatchSlot(t *testing.T) {
	const made = 2 << 62
	vol := memory.NewVolume()
	h := multiHeader(t, 31, 1<<16, domain.EnvelopeAll)
	a, err := domain.Create(vol, h, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	st, d := joinStorage(t, vol, 31)
	words := st.(*memory.Storage).Words()
	tail := &words[domain.TailOffset/8]
	tv := atomic.LoadUint64(tail)
	start := (tv & (1<<32 - 1)) * 8
	slot := (domain.SlotsOffset + domain.SlotLen*d.Slot()) / 8
	const k, size = 4, 4 * 40 // 4 records in 160 bytes: room for 4 void records of 32
	atomic.StoreUint64(&words[slot+2], size|(k-1)<<32)
	atomic.StoreUint64(&words[slot+1], made|tv)
	atomic.StoreUint64(tail, tv+k<<32+size/8)
	// One "published" record of 136 bytes: 24 bytes left for 3 void records.
	atomic.StoreUint64(&words[(domain.DataOffset+start)/8], 128)
	st.Close()
	defer func() {
		if e := recover(); e != nil {
			t.Fatalf("a joiner settling the slot panics: %v", e)
		}
	}()
	var joined []*domain.Writer[[]byte]
	for took := false; !took; {
		e, err := domain.Join(vol, 31, codecs.Raw{})
		if err != nil {
			break // ErrNoSlot: the slot stays held by its claim (settle gave up), or every slot is taken
		}
		joined, took = append(joined, e), e.Slot() == d.Slot()
	}
	for _, e := range joined {
		e.Release()
	}
	for i := range 3 {
		if w := atomic.LoadUint64(&words[(domain.DataOffset+start+136+8*uint64(i))/8]); w != domain.Watermark {
			t.Errorf("word %d after the walked record: %#x, want the watermark untouched", i, w)
		}
	}
	if w := atomic.LoadUint64(&words[(domain.DataOffset+start+size)/8]); w != domain.Watermark {
		t.Errorf("the word past the claim: %#x, want the watermark untouched", w)
	}
}

// TestMultiWriterReviewSlotPastTheTail: a dead slot whose size word
// claims 4,000 bytes from its tail value, where the tail moved 40 (a
// damaged or planted slot: a claim that was made ends at or before the
// tail), and one claiming 65 records (more than this package puts in one
// claim). A reader waiting there leaves them alone: it voided 4,000
// bytes, past the tail, and then skipped the record a live writer
// published in them afterwards.
func TestMultiWriterReviewSlotPastTheTail(t *testing.T) {
	const intent, made = 1 << 62, 2 << 62
	for _, c := range []struct {
		name       string
		state      uint64
		size, tail uint64 // the slot's size word; the bytes the tail moves
	}{
		{"past-the-tail", intent, 4000, 40},
		{"65-records", made, 65*40 | 64<<32, 65 * 40},
	} {
		vol := memory.NewVolume()
		a, err := domain.Create(vol, multiHeader(t, 33, 1<<16, domain.EnvelopeAll), codecs.Raw{})
		if err != nil {
			t.Fatal(err)
		}
		st, d := joinStorage(t, vol, 33)
		words := st.(*memory.Storage).Words()
		tail := &words[domain.TailOffset/8]
		tv := atomic.LoadUint64(tail)
		slot := (domain.SlotsOffset + domain.SlotLen*d.Slot()) / 8
		atomic.StoreUint64(&words[slot+2], c.size)
		atomic.StoreUint64(&words[slot+1], c.state|tv)
		atomic.StoreUint64(tail, tv+1<<32+c.tail/8)
		st.Close() // its writer is dead
		r, err := domain.Open(vol, 33, domain.WithClaimBound(time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		r.Follow(ctx, func(domain.Record) error { return nil }) // waits at the claim past its bound
		cancel()
		if _, err := a.Write(channeltest.Tagged(0, 0, 20)); err != nil {
			t.Fatal(err)
		}
		if w := atomic.LoadUint64(&words[(domain.DataOffset+(tv&(1<<32-1))*8)/8]); w != domain.Watermark {
			t.Errorf("%s: the claim's length word is %#x, want the watermark (left alone)", c.name, w)
		}
		if pos := r.Position(); pos != 0 {
			t.Errorf("%s: the reader moved to %d, past the claim", c.name, pos)
		}
		r.Close()
		a.Release()
	}
}
