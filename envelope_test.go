package kekbit_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit"
	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/ports"
)

func envelopeHeader(t testing.TB, id uint64, env kekbit.Envelope) kekbit.Header {
	h, err := kekbit.NewHeader(kekbit.Hints{ChannelID: id, Capacity: 1 << 16, MaxMsgLen: 100, Timeout: 60, TickUnit: kekbit.Micros, Envelope: env, SeqBase: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestEnvelopeRoundTrip: on every backend and for every choice of fields,
// readers hand out the payloads as written, with the sequence numbers from
// the header's base and the times of the writer's clock; the header says
// the envelope, and the max payload is what was asked for.
func TestEnvelopeRoundTrip(t *testing.T) {
	for _, env := range []kekbit.Envelope{kekbit.EnvelopeCRC, kekbit.EnvelopeSeq, kekbit.EnvelopeTime, kekbit.EnvelopeCRC | kekbit.EnvelopeSeq, kekbit.EnvelopeAll} {
		t.Run(env.String(), func(t *testing.T) {
			everyBackend(t, func(t *testing.T, vol ports.Volume) {
				h := envelopeHeader(t, 1, env)
				if h.MaxPayload() < 100 || h.MaxPayload() != h.MaxMsgLen-uint32(env.Len()) {
					t.Fatalf("max payload %d of max record %d with a %d-byte envelope", h.MaxPayload(), h.MaxMsgLen, env.Len())
				}
				clock := time.Unix(1_700_000_000, 0)
				w, err := kekbit.Create(vol, h, codecs.Raw{}, kekbit.WithWriteClock(func() time.Time { clock = clock.Add(time.Millisecond); return clock }))
				if err != nil {
					t.Fatal(err)
				}
				for i := range 50 {
					if _, err := w.Write([]byte(fmt.Sprintf("record %d %s", i, make([]byte, i)))); err != nil {
						t.Fatal(err)
					}
					if i%7 == 0 {
						w.Heartbeat()
					}
				}
				if _, err := w.Write(make([]byte, h.MaxPayload())); err != nil {
					t.Fatalf("a payload of the max length: %v", err)
				}
				if _, err := w.Write(make([]byte, h.MaxPayload()+1)); !errors.Is(err, kekbit.ErrRecordTooLarge) {
					t.Fatalf("a payload above the max: %v", err)
				}
				w.Close()
				r, err := kekbit.Open(vol, 1)
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				if got := r.Header(); got.Envelope != env || got.SeqBase != 1000 {
					t.Fatalf("header says envelope %v base %d", got.Envelope, got.SeqBase)
				}
				i := 0
				var nexts []uint64
				for rec := range r.Records() {
					if rec.Next() != r.Position() || rec.Next() != rec.Position+kekbit.RecordSize(uint64(len(rec.Payload))+env.Len()) {
						t.Fatalf("record %d at %d: Next %d, reader at %d", i, rec.Position, rec.Next(), r.Position())
					}
					nexts = append(nexts, rec.Next())
					if i < 50 && string(rec.Payload) != fmt.Sprintf("record %d %s", i, make([]byte, i)) {
						t.Fatalf("record %d: %q", i, rec.Payload)
					}
					if r.Seq() != 1000+uint64(i) {
						t.Fatalf("record %d: sequence number %d", i, r.Seq())
					}
					wantTime := uint64(0)
					if env.Has(kekbit.EnvelopeTime) {
						wantTime = uint64(time.Unix(1_700_000_000, 0).Add(time.Duration(i+1) * time.Millisecond).UnixMicro())
					}
					if r.Time() != wantTime {
						t.Fatalf("record %d: time %d, want %d", i, r.Time(), wantTime)
					}
					i++
				}
				if i != 51 || !errors.Is(r.Err(), kekbit.ErrClosed) {
					t.Fatalf("%d records, then %v", i, r.Err())
				}
				// Resuming from a stored Next goes on with the next record,
				// its sequence number checked.
				if err := r.MoveTo(nexts[20]); err != nil {
					t.Fatal(err)
				}
				for range r.Records() {
					if r.Seq() != 1021 {
						t.Fatalf("after MoveTo(Next of record 20): sequence number %d", r.Seq())
					}
					break
				}
			})
		})
	}
}

// TestEnvelopeDetectsDamage: a flipped bit in a record, a record zeroed
// away on its boundaries and a lost tail each end the read with ErrCorrupt
// at the damaged record, naming the check that failed; nothing after it is
// handed out.
func TestEnvelopeDetectsDamage(t *testing.T) {
	build := func() (*memory.Storage, []uint64) {
		h := envelopeHeader(t, 2, kekbit.EnvelopeAll)
		st := memory.New(h.FileSize())
		w, err := kekbit.NewWriter(st.Share(), h, codecs.Raw{})
		if err != nil {
			t.Fatal(err)
		}
		var pos []uint64
		for i := range 20 {
			pos = append(pos, uint64(w.WriteOffset()))
			w.Write([]byte(fmt.Sprintf("payload %02d", i)))
		}
		w.Close()
		return st, pos
	}
	read := func(st *memory.Storage) (int, error) {
		r, err := kekbit.NewReader(st.Share())
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rec := range r.Records() {
			if string(rec.Payload) != fmt.Sprintf("payload %02d", n) {
				t.Fatalf("record %d handed out damaged: %q", n, rec.Payload)
			}
			n++
		}
		return n, r.Err()
	}
	for _, tc := range []struct {
		name   string
		damage func(b []byte, pos []uint64)
		good   int
		check  string
	}{
		{"bit in a payload", func(b []byte, pos []uint64) { b[domain.DataOffset+pos[5]+8+30] ^= 4 }, 5, "crc"},
		{"bit in the padding", func(b []byte, pos []uint64) { b[domain.DataOffset+pos[5]+8+24+11] ^= 1 }, 5, "crc"},
		{"bit in a length word", func(b []byte, pos []uint64) { b[domain.DataOffset+pos[5]] ^= 8 }, 5, "crc"},
		{"a record zeroed on its boundaries", func(b []byte, pos []uint64) {
			clear(b[domain.DataOffset+pos[5] : domain.DataOffset+pos[6]])
		}, 5, "seq"},
		{"the tail zeroed, close mark included", func(b []byte, pos []uint64) {
			clear(b[domain.DataOffset+pos[15] : domain.DataOffset+pos[19]+64])
		}, 15, "trailer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, pos := build()
			tc.damage(st.Bytes(), pos)
			n, err := read(st)
			var re *kekbit.ReadError
			if n != tc.good || !errors.As(err, &re) || re.Err != kekbit.ErrCorrupt || re.Check != tc.check {
				t.Fatalf("%d good records, then %v (check %q); want %d, then ErrCorrupt by %q", n, err, re.Check, tc.good, tc.check)
			}
		})
	}
}

// TestEnvelopeDamagedHeaderBlock: a flipped bit in the extension block's
// magic used to make an enveloped channel read as a plain one, handing out
// every record's envelope as the first bytes of its payload; and a
// flipped bit in the close trailer of a closed channel used to go
// unnoticed (the trailer ignored as absent). The first is refused at
// open, the second ends the read with ErrCorrupt after the good records.
func TestEnvelopeDamagedHeaderBlock(t *testing.T) {
	build := func() *memory.Storage {
		h := envelopeHeader(t, 3, kekbit.EnvelopeAll)
		st := memory.New(h.FileSize())
		w, err := kekbit.NewWriter(st.Share(), h, codecs.Raw{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			w.Write([]byte(fmt.Sprintf("payload %02d", i)))
		}
		w.Close()
		return st
	}
	for bit := range 64 {
		st := build()
		st.Bytes()[domain.ExtOffset+bit/8] ^= 1 << (bit % 8)
		_, err := kekbit.NewReader(st)
		var he *kekbit.HeaderError
		if !errors.As(err, &he) || he.Field != "extension_magic" {
			t.Fatalf("bit %d of the extension magic flipped: open gives %v, want a *HeaderError for extension_magic", bit, err)
		}
	}
	for bit := range 8 * domain.TrailerLen {
		st := build()
		st.Bytes()[domain.TrailerOffset+bit/8] ^= 1 << (bit % 8)
		r, err := kekbit.NewReader(st)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for range r.Records() {
			n++
		}
		var re *kekbit.ReadError
		if n != 5 || !errors.As(r.Err(), &re) || re.Err != kekbit.ErrCorrupt || re.Check != "trailer_crc" {
			t.Fatalf("bit %d of the close trailer flipped: %d records, then %v; want 5, then ErrCorrupt by trailer_crc", bit, n, r.Err())
		}
	}
}

// TestEnvelopeLostTailNotClosed: the tail of a channel that was never
// closed lost (zeros from a record boundary to past the writer's end: no
// close trailer to tell) used to read as a full channel, the zeros walked
// as heartbeats up to the capacity. A writer that fills a channel leaves
// the watermark at its end, so the zeros there say the tail was lost:
// ErrCorrupt after the good records. A channel really full still ends
// full.
func TestEnvelopeLostTailNotClosed(t *testing.T) {
	h := envelopeHeader(t, 4, kekbit.EnvelopeAll)
	read := func(st *memory.Storage) (int, error) {
		r, err := kekbit.NewReader(st)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for range r.Records() {
			n++
		}
		return n, r.Err()
	}
	st := memory.New(h.FileSize())
	w, err := kekbit.NewWriter(st.Share(), h, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	var pos []uint64
	for i := range 20 {
		pos = append(pos, uint64(w.WriteOffset()))
		w.Write([]byte(fmt.Sprintf("payload %02d", i)))
	}
	end := uint64(w.WriteOffset())
	w.Release()
	clear(st.Bytes()[domain.DataOffset+pos[15] : domain.DataOffset+end+8]) // records 15.. and the watermark
	n, err := read(st.Share())
	var re *kekbit.ReadError
	if n != 15 || !errors.As(err, &re) || re.Err != kekbit.ErrCorrupt || re.Check != "end" {
		t.Fatalf("lost tail: %d records, then %v; want 15, then ErrCorrupt by end", n, err)
	}

	full := memory.New(h.FileSize())
	w, err = kekbit.NewWriter(full.Share(), h, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	written := 0
	for {
		if _, err := w.Write([]byte("filler")); err == nil {
			written++
		} else if _, err := w.Heartbeat(); err != nil {
			break
		}
	}
	w.Release()
	if n, err := read(full.Share()); n != written || !errors.Is(err, kekbit.ErrChannelFull) {
		t.Fatalf("full channel: %d of %d records, then %v; want all, then ErrChannelFull", n, written, err)
	}
}
