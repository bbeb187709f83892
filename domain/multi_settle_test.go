package domain_test

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/internal/channeltest"
)

// twoDeadOneClaim makes channel 13 with a record, two writers that both
// stored a claim from the same tail value (the first one's swap won) and
// died, and live writers in every other slot. It returns the volume, the
// dead writers' slots, the claim's position and the live writers.
func twoDeadOneClaim(t *testing.T) (*memory.Volume, [2]int, uint64, []*domain.Writer[[]byte]) {
	t.Helper()
	const intent = 1 << 62
	vol := memory.NewVolume()
	a, err := domain.Create(vol, multiHeader(t, 13, 1<<16, domain.EnvelopeAll), codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Write(channeltest.Tagged(0, 0, 20)); err != nil {
		t.Fatal(err)
	}
	st1, d1 := joinStorage(t, vol, 13)
	st2, d2 := joinStorage(t, vol, 13)
	live := []*domain.Writer[[]byte]{a}
	for range domain.Slots - 3 {
		w, err := domain.Join(vol, 13, codecs.Raw{})
		if err != nil {
			t.Fatal(err)
		}
		live = append(live, w)
	}
	words := st1.(*memory.Storage).Words()
	tail := &words[domain.TailOffset/8]
	tv := atomic.LoadUint64(tail)
	size := domain.RecordSize(24 + 40)
	for _, d := range []*domain.Writer[[]byte]{d1, d2} {
		slot := (domain.SlotsOffset + domain.SlotLen*d.Slot()) / 8
		atomic.StoreUint64(&words[slot+2], size)
		atomic.StoreUint64(&words[slot+1], intent|tv)
	}
	if !atomic.CompareAndSwapUint64(tail, tv, tv+1<<32+size/8) { // d1's swap
		t.Fatal("the tail moved")
	}
	slots := [2]int{d1.Slot(), d2.Slot()}
	st1.Close() // both die
	st2.Close()
	return vol, slots, (tv & (1<<32 - 1)) * 8, live
}

// TestJoinWhileAnotherSettles: a joiner takes a dead writer's slot whose
// claim another dead writer's slot names too, while that other slot is
// held by a joiner still settling it (its lock taken, its owner word
// "settling", as FORMAT.md says): the claim is a dead one's, and the join
// repairs it and succeeds at once. Before the settling state it took the
// other slot's lock for a live writer's, waited 100 ms on each try and
// ended ErrNoSlot with a free slot there to take.
func TestJoinWhileAnotherSettles(t *testing.T) {
	vol, dead, pos, live := twoDeadOneClaim(t)
	other := mustOpenForWrite(t, vol, 13)
	if err := other.LockSlot(dead[1]); err != nil {
		t.Fatal(err)
	}
	atomic.StoreUint64(&other.Words()[(domain.SlotsOffset+domain.SlotLen*dead[1])/8], 1<<62)
	w, err := domain.Join(vol, 13, codecs.Raw{})
	if err != nil {
		t.Fatalf("join beside a settling slot: %v", err)
	}
	if w.Slot() != dead[0] {
		t.Errorf("joined slot %d, want the dead writer's %d", w.Slot(), dead[0])
	}
	if word := atomic.LoadUint64(&other.Words()[(domain.DataOffset+pos)/8]); word != 24 {
		t.Errorf("the dead claim's length word is %#x, want a void record's 24", word)
	}
	for _, l := range append(live, w) {
		l.Release()
	}
}

// TestConcurrentJoinersSettle: two joiners at once into the two slots of
// writers that died with the same claim, every other slot live: both join
// (30 rounds), the claim becomes one void record, and a reader reads the
// first record, skips the void one and waits after it.
func TestConcurrentJoinersSettle(t *testing.T) {
	for round := range 30 {
		vol, dead, pos, live := twoDeadOneClaim(t)
		var wg sync.WaitGroup
		var joined [2]*domain.Writer[[]byte]
		var errs [2]error
		start := make(chan struct{})
		for k := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				joined[k], errs[k] = domain.Join(vol, 13, codecs.Raw{})
			}()
		}
		began := time.Now()
		close(start)
		wg.Wait()
		for k, err := range errs {
			if err != nil {
				t.Fatalf("round %d: joiner %d: %v (after %v)", round, k, err, time.Since(began))
			}
		}
		if s := fmt.Sprint(joined[0].Slot(), joined[1].Slot()); s != fmt.Sprint(dead[0], dead[1]) && s != fmt.Sprint(dead[1], dead[0]) {
			t.Fatalf("round %d: joined slots %s, want %v", round, s, dead)
		}
		r, err := domain.Open(vol, 13)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		_, err = r.Read(func(domain.Record) error { n++; return nil }, 0)
		if end := pos + domain.RecordSize(24+40); !errors.Is(err, domain.ErrNothingYet) || n != 1 || r.Position() != end {
			t.Fatalf("round %d: %d records, then %v at %d; want the first, the void one skipped, and nothing yet at %d", round, n, err, r.Position(), end)
		}
		r.Close()
		for _, l := range append(live, joined[:]...) {
			l.Release()
		}
	}
}
