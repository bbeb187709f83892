package domain_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/internal/channeltest"
)

// writeAll writes vs to w in batches of the sizes cuts gives (WriteBatch),
// or one by one (Write) if cuts is nil, and returns how many went in and
// the error that stopped it.
func writeAll[T any](w *domain.Writer[T], vs []T, cuts func() int) (int, error) {
	if cuts == nil {
		for i, v := range vs {
			if _, err := w.Write(v); err != nil {
				return i, err
			}
		}
		return len(vs), nil
	}
	done := 0
	for done < len(vs) {
		k := min(len(vs)-done, cuts())
		n, err := w.WriteBatch(vs[done : done+k])
		if done += n; err != nil {
			return done, err
		}
		if n != k {
			return done, fmt.Errorf("WriteBatch of %d: %d and no error", k, n)
		}
	}
	return done, nil
}

// dataRegion returns the data region of a memory channel's image.
func dataRegion(t *testing.T, vol *memory.Volume, id uint64) []byte {
	t.Helper()
	st, err := vol.Open(id)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	return bytes.Clone(st.(*memory.Storage).Bytes()[domain.DataOffset:])
}

// TestWriteBatchIsWrite: on single and multi-writer channels, for every
// envelope and a verbatim and an encoding codec, values written by
// WriteBatch in batches of random sizes leave the data region that Write
// leaves, byte for byte, with the same count and the same error: up to a
// value that cannot go in (empty, too large), and to the end of a channel
// too small for them all (the run that does not fit goes record by
// record). The records read back are the values, in order.
func TestWriteBatchIsWrite(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 7))
	for env := domain.Envelope(0); env <= domain.EnvelopeAll; env++ {
		for _, multi := range []bool{false, true} {
			for _, c := range []struct {
				name     string
				capacity uint32
				bad      int // index of a value that cannot go in, -1 none
			}{{"fits", 1 << 18, -1}, {"empty-value", 1 << 18, 150}, {"too-large", 1 << 18, 77}, {"fills", 1 << 15, -1}} {
				vals := make([]string, 800)
				for i := range vals {
					vals[i] = fmt.Sprintf("%04d:%s", i, bytes.Repeat([]byte{'a' + byte(i%26)}, rng.IntN(120)))
				}
				switch c.name {
				case "empty-value":
					vals[c.bad] = ""
				case "too-large":
					vals[c.bad] = string(make([]byte, 1000))
				}
				name := fmt.Sprintf("env=%d/multi=%v/%s", env, multi, c.name)
				h, err := domain.NewHeader(domain.Hints{WriterID: 9, ChannelID: 1, Capacity: c.capacity, MaxMsgLen: 200,
					Timeout: 2000, TickUnit: domain.Millis, Envelope: env, MultiWriter: multi})
				if err != nil {
					t.Fatal(err)
				}
				var images [2][]byte
				var counts [2]int
				var errs [2]error
				for k, cuts := range []func() int{nil, func() int { return 1 + rng.IntN(90) }} {
					vol := memory.NewVolume()
					if multi {
						h.WriterID = 9 // the same header bytes
					}
					w, err := domain.Create(vol, h, codecs.Text{}, domain.WithWriteClock(func() time.Time { return time.UnixMilli(1e12) }))
					if err != nil {
						t.Fatal(err)
					}
					counts[k], errs[k] = writeAll(w, vals, cuts)
					if err := w.Release(); err != nil {
						t.Fatal(err)
					}
					images[k] = dataRegion(t, vol, 1)
					r, err := domain.Open(vol, 1)
					if err != nil {
						t.Fatal(err)
					}
					i := 0
					_, rerr := r.Read(func(rec domain.Record) error {
						if string(rec.Payload) != vals[i] {
							return fmt.Errorf("record %d: %.10q, want %.10q", i, rec.Payload, vals[i])
						}
						i++
						return nil
					}, 0)
					if i != counts[k] || rerr != nil && !errors.Is(rerr, domain.ErrNothingYet) && !errors.Is(rerr, domain.ErrChannelFull) {
						t.Errorf("%s: read %d records (%v), %d written", name, i, rerr, counts[k])
					}
					r.Close()
				}
				if counts[0] != counts[1] || fmt.Sprint(errs[0]) != fmt.Sprint(errs[1]) {
					t.Errorf("%s: Write: %d, %v; WriteBatch: %d, %v", name, counts[0], errs[0], counts[1], errs[1])
				}
				if !bytes.Equal(images[0], images[1]) {
					t.Errorf("%s: the data regions differ", name)
				}
				switch {
				case c.bad >= 0 && counts[1] != c.bad:
					t.Errorf("%s: %d went in, want the %d before the bad value", name, counts[1], c.bad)
				case c.name == "fills" && (!errors.Is(errs[1], domain.ErrChannelFull) && !errors.Is(errs[1], domain.ErrNoSpace)):
					t.Errorf("%s: %v, want the channel full", name, errs[1])
				}
			}
		}
	}
}

// unpublish turns records from the k-th of the batch of sizes at pos back
// into what a writer that died before publishing them leaves: the
// watermark in their length words.
func unpublish(words []uint64, pos uint64, sizes []uint64, k int) {
	for i, s := range sizes {
		if i >= k {
			atomic.StoreUint64(&words[(domain.DataOffset+pos)/8], domain.Watermark)
		}
		pos += s
	}
}

// TestWriteBatchDiesMidway: a writer that dies after publishing j of the
// 5 records of its batch (j = 0..5), on a channel with every envelope: a reader that waits past its bound, or a writer that joins
// into the dead writer's slot, turns the other records into void records
// with their sequence numbers (or heartbeats); readers read every record
// published, in order, with strict sequence numbers, and nothing of the
// records never published; the other writer's records after the batch
// are untouched.
func TestWriteBatchDiesMidway(t *testing.T) {
	for env := domain.Envelope(0); env <= domain.EnvelopeAll; env++ {
		for j := 0; j <= 5; j++ {
			for _, by := range []string{"reader", "joiner"} {
				t.Run(fmt.Sprintf("env=%d/published=%d/by=%s", env, j, by), func(t *testing.T) {
					vol := memory.NewVolume()
					h := multiHeader(t, 3, 1<<16, env)
					a, err := domain.Create(vol, h, codecs.Raw{})
					if err != nil {
						t.Fatal(err)
					}
					defer a.Close()
					if _, err := a.Write(channeltest.Tagged(0, 0, 20)); err != nil {
						t.Fatal(err)
					}
					st, d := joinStorage(t, vol, 3)
					pos := domain.RecordSize(uint64(h.Envelope.Len()) + 20) // after a's first record: the batch goes there
					var batch [][]byte
					var sizes []uint64
					for s := range 5 {
						p := channeltest.Tagged(1, uint64(s), 16+8*s)
						batch, sizes = append(batch, p), append(sizes, domain.RecordSize(uint64(h.Envelope.Len())+uint64(len(p))))
					}
					if n, err := d.WriteBatch(batch); n != 5 || err != nil {
						t.Fatalf("WriteBatch: %d, %v", n, err)
					}
					words := st.(*memory.Storage).Words()
					unpublish(words, pos, sizes, j)
					if cw := &words[(domain.SlotsOffset+domain.SlotLen*d.Slot())/8+1]; j < 5 {
						// Its slot says what a writer that died mid-batch leaves:
						// state 2 (a published batch is state 1 again).
						atomic.StoreUint64(cw, 2<<62|atomic.LoadUint64(cw)&^(3<<62))
					}
					st.Close() // dies with its claim of 5 records, j of them published
					if _, err := a.Write(channeltest.Tagged(0, 1, 20)); err != nil {
						t.Fatal(err)
					}
					bound := 10 * time.Millisecond
					if by == "joiner" {
						// Joiners until one takes the dead writer's slot (they
						// start looking at slots of their own choice).
						var joined []*domain.Writer[[]byte]
						for took := false; !took; {
							e, err := domain.Join(vol, 3, codecs.Raw{})
							if err != nil {
								t.Fatalf("no joiner took the dead writer's slot %d: %v", d.Slot(), err)
							}
							joined, took = append(joined, e), e.Slot() == d.Slot()
						}
						for _, e := range joined {
							e.Release()
						}
						bound = time.Hour // repaired already: no reader waits
					}
					r, err := domain.Open(vol, 3, domain.WithClaimBound(bound))
					if err != nil {
						t.Fatal(err)
					}
					defer r.Close()
					var c channeltest.Order
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					err = r.Follow(ctx, func(rec domain.Record) error {
						if err := c.Add(rec.Payload); err != nil {
							return err
						}
						if c.Total == 2+j {
							return errStop
						}
						return nil
					})
					if err != errStop {
						t.Fatalf("follow: %v after %d records, want %d", err, c.Total, 2+j)
					}
					if c.Next[0] != 2 || c.Next[1] != uint64(j) {
						t.Errorf("read %d of writer 0 and %d of the batch, want 2 and %d", c.Next[0], c.Next[1], j)
					}
					if env != 0 && r.Seq() != 1+5 {
						t.Errorf("the record after the batch has sequence number %d, want 6", r.Seq())
					}
				})
			}
		}
	}
}

// TestWriteBatchAllocatesNothing: WriteBatch on a multi-writer channel,
// verbatim and encoded, once its buffers are made.
func TestWriteBatchAllocatesNothing(t *testing.T) {
	vol := memory.NewVolume()
	w, err := domain.Create(vol, multiHeader(t, 4, 1<<26, domain.EnvelopeAll), codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	batch := make([][]byte, 16)
	for i := range batch {
		batch[i] = make([]byte, 72)
	}
	if a := testing.AllocsPerRun(200, func() { w.WriteBatch(batch) }); a != 0 {
		t.Errorf("WriteBatch of 16 verbatim values: %v allocations, want 0", a)
	}
	tw, err := domain.Create(vol, multiHeader(t, 5, 1<<26, 0), codecs.Text{})
	if err != nil {
		t.Fatal(err)
	}
	defer tw.Close()
	texts := make([]string, 16)
	for i := range texts {
		texts[i] = fmt.Sprintf("record %d of the batch", i)
	}
	if a := testing.AllocsPerRun(200, func() { tw.WriteBatch(texts) }); a != 0 {
		t.Errorf("WriteBatch of 16 encoded values: %v allocations, want 0", a)
	}
}

// TestWriteBatchBadFirstValue: a batch whose first value cannot go in
// returns 0 and its error and claims nothing: the tail and the writer's
// slot are as before (a claim of no records once left the slot saying
// state 2 with a size word of 2^32-1 records).
func TestWriteBatchBadFirstValue(t *testing.T) {
	vol := memory.NewVolume()
	w, err := domain.Create(vol, multiHeader(t, 6, 1<<16, domain.EnvelopeAll), codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Write([]byte("first")); err != nil {
		t.Fatal(err)
	}
	st := mustOpenForWrite(t, vol, 6)
	words := st.Words()
	slot := (domain.SlotsOffset + domain.SlotLen*w.Slot()) / 8
	before := slices.Clone(words[domain.TailOffset/8 : slot+3])
	for _, bad := range [][]byte{{}, make([]byte, 1000)} {
		if n, err := w.WriteBatch([][]byte{bad, []byte("never")}); n != 0 || err == nil {
			t.Errorf("WriteBatch of a bad value of %d bytes first: %d, %v; want 0 and its error", len(bad), n, err)
		}
	}
	if after := words[domain.TailOffset/8 : slot+3]; !slices.Equal(before, after) {
		t.Errorf("the tail and slots changed: %#x, were %#x", after, before)
	}
}

// TestWriteBatchVerbatimMakesNoBuffer: a WriteBatch of []byte values
// through a verbatim codec uses the values' own bytes and makes no
// encoding buffer (it made one of the max payload, here 128 KiB, on a
// writer's first batch).
func TestWriteBatchVerbatimMakesNoBuffer(t *testing.T) {
	vol := memory.NewVolume()
	h, err := domain.NewHeader(domain.Hints{WriterID: 9, ChannelID: 8, Capacity: 1 << 24, MaxMsgLen: 1 << 17,
		Timeout: 2000, TickUnit: domain.Millis, MultiWriter: true})
	if err != nil {
		t.Fatal(err)
	}
	w, err := domain.Create(vol, h, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	batch := make([][]byte, 16)
	for i := range batch {
		batch[i] = make([]byte, 72)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if n, err := w.WriteBatch(batch); n != len(batch) || err != nil {
		t.Fatal(n, err)
	}
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got >= 64<<10 {
		t.Errorf("a writer's first WriteBatch of verbatim values allocated %d bytes, want no buffer of the max payload (128 KiB)", got)
	}
}
