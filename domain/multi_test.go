package domain_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/internal/channeltest"
	"github.com/kekbit-go/kekbit/ports"
)

func multiHeader(t testing.TB, id uint64, capacity uint32, env domain.Envelope) domain.Header {
	t.Helper()
	h, err := domain.NewHeader(domain.Hints{WriterID: 9, ChannelID: id, Capacity: capacity, MaxMsgLen: 200, Timeout: 2000, TickUnit: domain.Millis, Envelope: env, MultiWriter: true})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestMultiWriterBasics: two writers of one channel (the creator and one
// that joined) interleave records, claims, aborts and heartbeats; a reader
// reads every committed record once, in position order, with strict
// sequence numbers (an aborted claim is a void record it verifies and
// skips); Close by one writer ends the channel for the other.
func TestMultiWriterBasics(t *testing.T) {
	for _, env := range []domain.Envelope{0, domain.EnvelopeAll} {
		t.Run(env.String(), func(t *testing.T) {
			vol := memory.NewVolume()
			h := multiHeader(t, 5, 1<<16, env)
			a, err := domain.Create(vol, h, codecs.Raw{})
			if err != nil {
				t.Fatal(err)
			}
			b, err := domain.Join(vol, 5, codecs.Raw{})
			if err != nil {
				t.Fatal(err)
			}
			if a.Slot() == b.Slot() {
				t.Fatalf("both writers in slot %d", a.Slot())
			}
			if _, err := domain.Resume(mustOpenForWrite(t, vol, 5), codecs.Raw{}); err == nil {
				t.Fatal("Resume of a multi-writer channel with live writers: no error")
			}
			var want [][]byte
			if _, err := a.Write(channeltest.Tagged(0, 0, 20)); err != nil {
				t.Fatal(err)
			}
			want = append(want, channeltest.Tagged(0, 0, 20))
			p, err := b.Claim(40)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := a.Write(channeltest.Tagged(0, 1, 30)); err != nil { // a's record lies after b's open claim
				t.Fatal(err)
			}
			copy(p, channeltest.Tagged(1, 0, 24))
			if _, err := b.Commit(24); err != nil {
				t.Fatal(err)
			}
			want = append(want, channeltest.Tagged(1, 0, 24), channeltest.Tagged(0, 1, 30))
			if _, err := b.Claim(50); err != nil {
				t.Fatal(err)
			}
			if err := b.Abort(); err != nil {
				t.Fatal(err)
			}
			if _, err := a.Heartbeat(); err != nil {
				t.Fatal(err)
			}
			if _, err := b.Write(channeltest.Tagged(1, 1, 60)); err != nil {
				t.Fatal(err)
			}
			want = append(want, channeltest.Tagged(1, 1, 60))
			if got := a.Records(); got != 4+1 { // the aborted claim took a number
				t.Errorf("Records() = %d, want 5", got)
			}
			if err := a.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := b.Write(channeltest.Tagged(1, 2, 20)); !errors.Is(err, domain.ErrChannelClosed) || !errors.Is(err, domain.ErrWriterClosed) {
				t.Errorf("Write after another writer's Close: %v, want ErrChannelClosed", err)
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			r, err := domain.Open(vol, 5)
			if err != nil {
				t.Fatal(err)
			}
			var got [][]byte
			var seqs []uint64
			_, err = r.Read(func(rec domain.Record) error {
				got = append(got, append([]byte(nil), rec.Payload...))
				seqs = append(seqs, r.Seq())
				return nil
			}, 0)
			if !errors.Is(err, domain.ErrClosed) {
				t.Fatalf("read ends with %v, want ErrClosed", err)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("read %d records %v, want %v", len(got), got, want)
			}
			if env.Has(domain.EnvelopeSeq) && fmt.Sprint(seqs) != "[0 1 2 4]" {
				t.Errorf("sequence numbers %v, want [0 1 2 4] (3 is the void)", seqs)
			}
		})
	}
}

// joinStorage opens channel id of vol for one more writer and joins it:
// the storage (to close, as a writer's death) and its writer.
func joinStorage(t *testing.T, vol *memory.Volume, id uint64) (ports.Storage, *domain.Writer[[]byte]) {
	t.Helper()
	st, err := vol.OpenToJoin(id)
	if err != nil {
		t.Fatal(err)
	}
	w, err := domain.JoinStorage(st, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	return st, w
}

func mustOpenForWrite(t *testing.T, vol *memory.Volume, id uint64) *memory.Storage {
	t.Helper()
	st, err := vol.OpenToJoin(id)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st.(*memory.Storage)
}

// TestMultiWriterFull: writers that fill the channel end it with
// heartbeats to the capacity; readers end "full" with every record
// committed before; every later claim gets ErrChannelFull.
func TestMultiWriterFull(t *testing.T) {
	vol := memory.NewVolume()
	h := multiHeader(t, 6, 1<<14, domain.EnvelopeAll)
	a, err := domain.Create(vol, h, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := domain.Join(vol, 6, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	var n [2]int
	for i := 0; ; i++ {
		w := []*domain.Writer[[]byte]{a, b}[i%2]
		if _, err := w.Write(channeltest.Tagged(uint64(i%2), uint64(n[i%2]), 60)); err != nil {
			if !errors.Is(err, domain.ErrChannelFull) {
				t.Fatalf("write %d: %v", i, err)
			}
			break
		}
		n[i%2]++
	}
	for _, w := range []*domain.Writer[[]byte]{a, b} {
		if _, err := w.Claim(10); !errors.Is(err, domain.ErrChannelFull) {
			t.Errorf("claim on a full channel: %v", err)
		}
	}
	r, err := domain.Open(vol, 6)
	if err != nil {
		t.Fatal(err)
	}
	var c channeltest.Order
	_, err = r.Read(func(rec domain.Record) error { return c.Add(rec.Payload) }, 0)
	if !errors.Is(err, domain.ErrChannelFull) {
		t.Fatalf("read ends with %v, want ErrChannelFull", err)
	}
	if c.Total != n[0]+n[1] {
		t.Errorf("read %d records, want %d", c.Total, n[0]+n[1])
	}
	a.Close()
	b.Close()
}

// TestMultiWriterDeadClaim: a writer dies (its storage closed under it)
// with a claim open, and another with its claim only half made (the slot
// says it meant to claim); records others commit after them are held up
// only until the reader's bound, then the dead claims become void
// records: nothing committed is lost, sequence numbers stay strict. A
// writer that joins later takes a dead writer's slot.
func TestMultiWriterDeadClaim(t *testing.T) {
	vol := memory.NewVolume()
	h := multiHeader(t, 7, 1<<16, domain.EnvelopeAll)
	a, err := domain.Create(vol, h, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	dying, d := joinStorage(t, vol, 7)
	if _, err := a.Write(channeltest.Tagged(0, 0, 20)); err != nil {
		t.Fatal(err)
	}
	p, err := d.Claim(64)
	if err != nil {
		t.Fatal(err)
	}
	copy(p, "half a payload, never committed")
	if _, err := a.Write(channeltest.Tagged(0, 1, 20)); err != nil {
		t.Fatal(err)
	}
	dying.Close() // the writer dies with its claim open
	r, err := domain.Open(vol, 7, domain.WithClaimBound(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	var c channeltest.Order
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	err = r.Follow(ctx, func(rec domain.Record) error {
		if err := c.Add(rec.Payload); err != nil {
			return err
		}
		if c.Total == 2 {
			return errStop
		}
		return nil
	})
	if err != errStop {
		t.Fatalf("follow: %v after %d records", err, c.Total)
	}
	if el := time.Since(start); el < 20*time.Millisecond {
		t.Errorf("the dead claim was repaired after %v, before the bound", el)
	}
	e, err := domain.Join(vol, 7, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Write(channeltest.Tagged(2, 0, 20)); err != nil {
		t.Fatal(err)
	}
	a.Close()
	e.Close()
	_, err = r.Read(func(rec domain.Record) error { return c.Add(rec.Payload) }, 0)
	if !errors.Is(err, domain.ErrClosed) || c.Total != 3 {
		t.Fatalf("read ends with %v after %d records, want ErrClosed after 3", err, c.Total)
	}
}

var errStop = errors.New("stop")

// TestMultiWriterJoinRepairs: a writer that joins takes the slot of a
// dead writer and first turns its claim into a void record, so readers
// (and the crate) move on without waiting.
func TestMultiWriterJoinRepairs(t *testing.T) {
	vol := memory.NewVolume()
	h := multiHeader(t, 8, 1<<16, domain.EnvelopeAll)
	var ws []*domain.Writer[[]byte]
	a, err := domain.Create(vol, h, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	ws = append(ws, a)
	var dead []*memory.Storage
	for range domain.Slots - 1 {
		st, w := joinStorage(t, vol, 8)
		if _, err := w.Claim(30); err != nil {
			t.Fatal(err)
		}
		dead = append(dead, st.(*memory.Storage))
	}
	if _, err := domain.Join(vol, 8, codecs.Raw{}); !errors.Is(err, domain.ErrNoSlot) {
		t.Fatalf("join with every slot held: %v, want ErrNoSlot", err)
	}
	if _, err := a.Write(channeltest.Tagged(0, 0, 20)); err != nil {
		t.Fatal(err)
	}
	for _, st := range dead {
		st.Close()
	}
	for i := range domain.Slots - 1 {
		w, err := domain.Join(vol, 8, codecs.Raw{})
		if err != nil {
			t.Fatalf("join %d: %v", i, err)
		}
		ws = append(ws, w)
	}
	r, err := domain.Open(vol, 8, domain.WithClaimBound(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var c channeltest.Order
	if _, err := r.Read(func(rec domain.Record) error { return c.Add(rec.Payload) }, 0); err != domain.ErrNothingYet || c.Total != 1 {
		t.Fatalf("read: %v after %d records, want ErrNothingYet after 1 (the joiners repaired the 9 dead claims)", err, c.Total)
	}
	for _, w := range ws {
		w.Release()
	}
}

// TestMultiWriterRace: 8 writer goroutines (each its own writer, by
// Write, Claim+Commit and WriteBatch) and 8 reader goroutines on one
// memory channel; every reader reads every record once, each writer's in
// order. Run with -race.
func TestMultiWriterRace(t *testing.T) {
	const writers, readers = 8, 8
	per := 20_000
	if testing.Short() || raceOn {
		per = 5_000
	}
	vol := memory.NewVolume()
	h := multiHeader(t, 9, uint32(writers*per*112+1<<16), domain.EnvelopeAll)
	first, err := domain.Create(vol, h, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers+readers)
	for i := range readers {
		r, err := domain.Open(vol, 9, domain.WithWait(domain.Wait{Yields: 100, MinSleep: time.Microsecond, MaxSleep: 100 * time.Microsecond}))
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.Close()
			var c channeltest.Order
			err := r.Follow(context.Background(), func(rec domain.Record) error { return c.Add(rec.Payload) })
			if !errors.Is(err, domain.ErrClosed) {
				errs <- fmt.Errorf("reader %d: %w", i, err)
				return
			}
			if c.Total != writers*per {
				errs <- fmt.Errorf("reader %d: %d records, want %d", i, c.Total, writers*per)
			}
		}()
	}
	var ww sync.WaitGroup
	for i := range writers {
		w := first
		if i > 0 {
			if w, err = domain.Join(vol, 9, codecs.Raw{}); err != nil {
				t.Fatal(err)
			}
		}
		ww.Add(1)
		go func() {
			defer ww.Done()
			for s := 0; s < per; s++ {
				if s%24 == 1 && s+8 <= per { // a batch of 8
					batch := make([][]byte, 8)
					for k := range batch {
						batch[k] = channeltest.Tagged(uint64(i), uint64(s+k), 16+(s+k)%40)
					}
					if n, err := w.WriteBatch(batch); n != len(batch) || err != nil {
						errs <- fmt.Errorf("writer %d batch from record %d: %d went in: %w", i, s, n, err)
						return
					}
					s += len(batch) - 1
					continue
				}
				p := channeltest.Tagged(uint64(i), uint64(s), 16+s%40)
				var err error
				if s%3 == 0 {
					var b []byte
					if b, err = w.Claim(len(p) + 8); err == nil {
						copy(b, p)
						_, err = w.Commit(len(p))
					}
				} else {
					_, err = w.Write(p)
				}
				if err != nil {
					errs <- fmt.Errorf("writer %d record %d: %w", i, s, err)
					return
				}
				if s%1000 == 0 {
					runtime.Gosched()
				}
			}
			if i > 0 {
				w.Release()
			}
		}()
	}
	ww.Wait()
	first.Close()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestMultiWriterAllocatesNothing: Write, Claim+Commit, Abort and
// Heartbeat of a multi-writer channel's writer, and a reader's Read, make
// no allocation (Write's encoding buffer is made once, before).
func TestMultiWriterAllocatesNothing(t *testing.T) {
	if raceOn {
		t.Skip("the race detector's instrumentation allocates")
	}
	for _, env := range []domain.Envelope{0, domain.EnvelopeAll} {
		vol := memory.NewVolume()
		h := multiHeader(t, 11, 1<<24, env)
		w, err := domain.Create(vol, h, codecs.Text{})
		if err != nil {
			t.Fatal(err)
		}
		r, err := domain.Open(vol, 11)
		if err != nil {
			t.Fatal(err)
		}
		w.Write("first") // makes the encoding buffer
		handler := func(domain.Record) error { return nil }
		for name, f := range map[string]func(){
			"Write": func() { w.Write("a text record of some length") },
			"Claim+Commit": func() {
				p, _ := w.Claim(40)
				p[0] = 'x'
				w.Commit(20)
			},
			"Claim+Abort": func() { w.Claim(40); w.Abort() },
			"Heartbeat":   func() { w.Heartbeat() },
			"Read":        func() { r.Read(handler, 0) },
		} {
			if n := testing.AllocsPerRun(1000, f); n != 0 {
				t.Errorf("envelope %v: %s allocates %.1f times", env, name, n)
			}
		}
		w.Close()
		r.Close()
	}
}

// TestMultiWriterDiesAroundTheSwap: writers that die between storing
// their claim in their slot and the tail's swap, on both sides of it,
// as FORMAT.md's slot protocol says a slot looks then (the words stored
// by hand). A claim whose swap happened becomes a void record once the
// reader's bound has passed; one whose swap never happened is no claim:
// the position goes to the next writer, and a joiner that takes the dead
// slot clears it without touching anyone's record.
func TestMultiWriterDiesAroundTheSwap(t *testing.T) {
	const intent = 1 << 62 // the claim word's state: the writer's claim from this tail value
	for _, swapped := range []bool{true, false} {
		t.Run(fmt.Sprintf("swapped=%v", swapped), func(t *testing.T) {
			vol := memory.NewVolume()
			h := multiHeader(t, 12, 1<<16, domain.EnvelopeAll)
			a, err := domain.Create(vol, h, codecs.Raw{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := a.Write(channeltest.Tagged(0, 0, 20)); err != nil {
				t.Fatal(err)
			}
			st, d := joinStorage(t, vol, 12)
			words := st.(*memory.Storage).Words()
			slot := (domain.SlotsOffset + domain.SlotLen*d.Slot()) / 8
			tail := &words[domain.TailOffset/8]
			tv := atomic.LoadUint64(tail)
			size := domain.RecordSize(24 + 40)
			atomic.StoreUint64(&words[slot+2], size)
			atomic.StoreUint64(&words[slot+1], intent|tv)
			if swapped && !atomic.CompareAndSwapUint64(tail, tv, tv+1<<32+size/8) {
				t.Fatal("the tail moved")
			}
			st.Close() // dies here
			if _, err := a.Write(channeltest.Tagged(0, 1, 20)); err != nil {
				t.Fatal(err)
			}
			r, err := domain.Open(vol, 12, domain.WithClaimBound(10*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			var c channeltest.Order
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err = r.Follow(ctx, func(rec domain.Record) error {
				if err := c.Add(rec.Payload); err != nil {
					return err
				}
				if c.Total == 2 {
					return errStop
				}
				return nil
			})
			if err != errStop {
				t.Fatalf("follow: %v after %d records", err, c.Total)
			}
			if want := uint64(2); swapped && r.Seq() != want || !swapped && r.Seq() != 1 {
				t.Errorf("the second record has sequence number %d (swapped %v)", r.Seq(), swapped)
			}
			var joined []*domain.Writer[[]byte] // joiners until every slot is held: one of them takes the dead one's
			var took *domain.Writer[[]byte]
			for {
				e, err := domain.Join(vol, 12, codecs.Raw{})
				if errors.Is(err, domain.ErrNoSlot) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if _, err := e.Write(channeltest.Tagged(1, c.Next[1], 30)); err != nil {
					t.Fatal(err)
				}
				c.Next[1]++
				c.Total++
				joined = append(joined, e)
				if e.Slot() == d.Slot() {
					took = e
				}
			}
			if took == nil {
				t.Fatalf("no joiner took the dead writer's slot %d", d.Slot())
			}
			if got := atomic.LoadUint64(&words[slot+1]); got&(3<<62) != intent || got&^(3<<62) == tv {
				t.Errorf("the dead slot's claim word is %#x after a joiner took it and claimed", got)
			}
			for _, e := range joined {
				e.Release()
			}
			a.Close()
			r2, err := domain.Open(vol, 12)
			if err != nil {
				t.Fatal(err)
			}
			var all channeltest.Order
			_, err = r2.Read(func(rec domain.Record) error { return all.Add(rec.Payload) }, 0)
			if !errors.Is(err, domain.ErrClosed) || all.Total != c.Total {
				t.Fatalf("the whole channel: %v after %d records, want ErrClosed after %d", err, all.Total, c.Total)
			}
		})
	}
}

// TestMultiWriterLostSwapLeavesNoClaim: a live writer whose swap lost to
// a writer that then died, and that then claims nothing (the channel was
// closed), does not keep the lost tail value in its slot: the dead
// writer's claim is repaired and readers reach the close mark.
func TestMultiWriterLostSwapLeavesNoClaim(t *testing.T) {
	const intent = 1 << 62
	vol := memory.NewVolume()
	h := multiHeader(t, 13, 1<<16, domain.EnvelopeAll)
	a, err := domain.Create(vol, h, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	st, dying := joinStorage(t, vol, 13)
	l, err := domain.Join(vol, 13, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	words := st.(*memory.Storage).Words()
	tv := atomic.LoadUint64(&words[domain.TailOffset/8])
	if _, err := dying.Claim(40); err != nil {
		t.Fatal(err)
	}
	// l tried to claim from the same tail value and lost the swap.
	atomic.StoreUint64(&words[(domain.SlotsOffset+domain.SlotLen*l.Slot())/8+1], intent|tv)
	st.Close() // the winner dies with its claim open
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Write([]byte("late")); !errors.Is(err, domain.ErrChannelClosed) {
		t.Fatalf("write after the close: %v", err)
	}
	r, err := domain.Open(vol, 13, domain.WithClaimBound(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.Follow(ctx, func(domain.Record) error { return nil }); !errors.Is(err, domain.ErrClosed) {
		t.Fatalf("follow ends with %v, want ErrClosed (the dead writer's claim repaired)", err)
	}
	l.Release()
}
