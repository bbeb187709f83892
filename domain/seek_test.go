package domain_test

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
)

// seekChannel writes n enveloped records with heartbeats between some, the
// clock stepping 0..3 ms per record (so that some times repeat), and
// returns the storage and each record's time in microseconds.
func seekChannel(t testing.TB, n int, env domain.Envelope, capacity uint32) (*memory.Storage, []uint64) {
	h, err := domain.NewHeader(domain.Hints{ChannelID: 1, Capacity: capacity, MaxMsgLen: 64, Timeout: 60, TickUnit: domain.Micros, Envelope: env, SeqBase: 500})
	if err != nil {
		t.Fatal(err)
	}
	st := memory.New(h.FileSize())
	rng := rand.New(rand.NewPCG(7, 7))
	now := time.Unix(1_700_000_000, 0)
	w, err := domain.NewWriter(st.Share(), h, codecs.Raw{}, domain.WithWriteClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	times := make([]uint64, n)
	payload := make([]byte, 40)
	for i := range n {
		now = now.Add(time.Duration(rng.IntN(4)) * time.Millisecond)
		times[i] = uint64(now.UnixMicro())
		payload[0] = byte(i)
		if _, err := w.Write(payload[:8+i%32]); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if rng.IntN(5) == 0 {
			w.Heartbeat()
		}
	}
	return st, times
}

// TestSeek: SeekSeq lands on every record by its sequence number, and
// SeekTime on the first record at or after every record's time and every
// time between; past the end both refuse and leave the reader where it was.
func TestSeek(t *testing.T) {
	const n = 3000
	st, times := seekChannel(t, n, domain.EnvelopeAll, 1<<20)
	r := mustReader(t, st.Share())
	next := func() (uint64, bool) {
		for range r.Records() {
			return r.Seq(), true
		}
		return 0, false
	}
	for _, i := range rand.New(rand.NewPCG(1, 2)).Perm(n) {
		if err := r.SeekSeq(500 + uint64(i)); err != nil {
			t.Fatalf("SeekSeq(%d): %v", 500+i, err)
		}
		if seq, ok := next(); !ok || seq != 500+uint64(i) {
			t.Fatalf("after SeekSeq(%d) the next record is %d (%v)", 500+i, seq, ok)
		}
	}
	if err := r.SeekSeq(500 + n); err != nil { // where the next record will go
		t.Fatalf("SeekSeq of the next record: %v", err)
	}
	if _, ok := next(); ok {
		t.Fatal("a record after the last")
	}
	at := r.Position()
	for _, bad := range []uint64{499, 500 + n + 1} {
		if err := r.SeekSeq(bad); !errors.Is(err, domain.ErrUnavailable) || r.Position() != at {
			t.Fatalf("SeekSeq(%d): %v, moved to %d", bad, err, r.Position())
		}
	}
	first := func(tm uint64) int { // the first record at tm or later
		for i, x := range times {
			if x >= tm {
				return i
			}
		}
		return n
	}
	for i := 0; i < n; i += 7 {
		for _, tm := range []uint64{times[i], times[i] - 1, times[i] + 500} {
			want := first(tm)
			err := r.SeekTime(tm)
			if want == n {
				if !errors.Is(err, domain.ErrUnavailable) {
					t.Fatalf("SeekTime(%d) past the last record: %v", tm, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("SeekTime(%d): %v", tm, err)
			}
			if seq, ok := next(); !ok || seq != 500+uint64(want) {
				t.Fatalf("after SeekTime(%d) the next record is %d, want %d", tm, seq, 500+want)
			}
		}
	}
}

// TestSeekFollowsTheWriter: the index grows as the writer goes on, and a
// channel without an envelope seeks by record number and refuses SeekTime.
func TestSeekFollowsTheWriter(t *testing.T) {
	h := small(t)
	mem := memory.New(h.FileSize())
	w, _ := domain.NewWriter(mem.Share(), h, codecs.Text{})
	r := mustReader(t, mem.Share())
	for i := range 300 {
		w.Write(string(rune('a' + i%26)))
		if i == 150 {
			if err := r.SeekSeq(140); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := r.SeekSeq(299); err != nil {
		t.Fatalf("SeekSeq into what was written after the first seek: %v", err)
	}
	for rec := range r.Records() {
		if string(rec.Payload) != string(rune('a'+299%26)) {
			t.Fatalf("record 299 is %q", rec.Payload)
		}
		break
	}
	if err := r.SeekTime(1); !errors.Is(err, domain.ErrNoTimestamps) {
		t.Fatalf("SeekTime without timestamps: %v", err)
	}
}

// BenchmarkSeek seeks to random records of a channel of a million, by
// sequence number and by time, with the index built.
func BenchmarkSeek(b *testing.B) {
	const n = 1_000_000
	st, times := seekChannel(b, n, domain.EnvelopeAll, 120<<20)
	r := mustReader(b, st.Share())
	if err := r.SeekSeq(500 + n - 1); err != nil { // builds the index
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	b.Run("seq", func(b *testing.B) {
		for range b.N {
			if err := r.SeekSeq(500 + uint64(rng.IntN(n))); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("time", func(b *testing.B) {
		for range b.N {
			if err := r.SeekTime(times[rng.IntN(n)]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
