package domain_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/ports"
)

// TestClaimIsWrite: a channel written by claims (filled in place,
// committed in part, some aborted) is byte for byte the channel that
// Write makes of the committed payloads, plain and with every envelope
// field, on the addressable path and the storage-method path; readers
// read the committed payloads and verify their envelopes.
func TestClaimIsWrite(t *testing.T) {
	for _, env := range []domain.Envelope{0, domain.EnvelopeCRC, domain.EnvelopeAll} {
		backends(t, func(t *testing.T, wrap func(*memory.Storage) ports.Storage) {
			h, err := domain.NewHeader(domain.Hints{ChannelID: 3, Capacity: 1 << 16, MaxMsgLen: 200, Timeout: 60, TickUnit: domain.Nanos, Envelope: env, Clock: fixedClock})
			if err != nil {
				t.Fatal(err)
			}
			byWrite, byClaim, ww, wc := writerPair(t, h, wrap)
			rng := rand.New(rand.NewPCG(7, uint64(env)))
			var want [][]byte
			for i := 0; ; i++ {
				n := 1 + rng.IntN(int(h.MaxPayload()))
				buf, ok := fillClaim(t, wc, n, rng)
				if !ok {
					break
				}
				if i%5 == 4 {
					if err := wc.Abort(); err != nil {
						t.Fatal(err)
					}
					continue
				}
				m := 1 + rng.IntN(n)
				p := bytes.Clone(buf[:m])
				if got, err := wc.Commit(m); err != nil || got != int(domain.RecordSize(uint64(m)+env.Len())) {
					t.Fatalf("Commit(%d) = %d, %v", m, got, err)
				}
				if _, err := ww.Write(p); err != nil {
					t.Fatal(err)
				}
				want = append(want, p)
			}
			if img, wimg := byClaim.Bytes(), byWrite.Bytes(); !bytes.Equal(img, wimg) {
				t.Fatalf("%v: the claimed channel differs from the written one from byte %d", env, firstDiff(img, wimg))
			}
			ww.Close()
			wc.Close()
			if !bytes.Equal(byClaim.Bytes(), byWrite.Bytes()) {
				t.Fatalf("%v: the closed channels differ from byte %d", env, firstDiff(byClaim.Bytes(), byWrite.Bytes()))
			}
			readsBack(t, mustReader(t, wrap(byClaim.Share())), want, domain.ErrClosed)
		})
	}
}

// writerPair makes two channels of h in memory, by way of open, and a
// writer of each, whose clocks tick alike: one millisecond a stamp.
func writerPair(t *testing.T, h domain.Header, open func(*memory.Storage) ports.Storage) (byWrite, byClaim *memory.Storage, ww, wc *domain.Writer[[]byte]) {
	t.Helper()
	clock := func() func() time.Time {
		at := time.Unix(1_800_000_000, 0)
		return func() time.Time { at = at.Add(time.Millisecond); return at }
	}
	byWrite, byClaim = memory.New(h.FileSize()), memory.New(h.FileSize())
	ww, err := domain.NewWriter(open(byWrite), h, codecs.Raw{}, domain.WithWriteClock(clock()))
	if err != nil {
		t.Fatal(err)
	}
	wc, err = domain.NewWriter(open(byClaim), h, codecs.Raw{}, domain.WithWriteClock(clock()))
	if err != nil {
		t.Fatal(err)
	}
	return byWrite, byClaim, ww, wc
}

// fillClaim claims n bytes of w and fills them with random bytes, none
// zero (a leftover would show); false if the channel has no room left.
func fillClaim(t *testing.T, w *domain.Writer[[]byte], n int, rng *rand.Rand) ([]byte, bool) {
	t.Helper()
	buf, err := w.Claim(n)
	if errors.Is(err, domain.ErrNoSpace) || errors.Is(err, domain.ErrChannelFull) {
		return nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(buf) != n {
		t.Fatalf("a claim of %d gave %d bytes", n, len(buf))
	}
	for j := range buf {
		buf[j] = byte(rng.Uint32() | 1)
	}
	return buf, true
}

// readsBack reads r to its end, which must be end, and checks that it
// holds the payloads want.
func readsBack(t *testing.T, r *domain.Reader, want [][]byte, end error) {
	t.Helper()
	i := 0
	for rec := range r.Records() {
		if i >= len(want) || !bytes.Equal(rec.Payload, want[i]) {
			t.Fatalf("record %d differs", i)
		}
		i++
	}
	if i != len(want) || !errors.Is(r.Err(), end) {
		t.Fatalf("read %d of %d records, ending %v, want %v", i, len(want), r.Err(), end)
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

// TestClaimErrors: every misuse of a claim is refused with its error,
// and leaves the writer as it was.
func TestClaimErrors(t *testing.T) {
	h := small(t)
	st := memory.New(h.FileSize())
	w, err := domain.NewWriter(st.Share(), h, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what string
		err  error
		f    func() error
	}{
		{"Commit with no claim", domain.ErrNoClaim, func() error { _, err := w.Commit(1); return err }},
		{"Abort with no claim", domain.ErrNoClaim, w.Abort},
		{"a claim of 0", domain.ErrEmptyPayload, func() error { _, err := w.Claim(0); return err }},
		{"a claim above the max", domain.ErrRecordTooLarge, func() error { _, err := w.Claim(113); return err }},
	} {
		if err := c.f(); !errors.Is(err, c.err) {
			t.Errorf("%s: %v, want %v", c.what, err, c.err)
		}
	}
	if _, err := w.Claim(50); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what string
		err  error
		f    func() error
	}{
		{"a second claim", domain.ErrClaimOpen, func() error { _, err := w.Claim(1); return err }},
		{"Write during a claim", domain.ErrClaimOpen, func() error { _, err := w.Write([]byte("x")); return err }},
		{"Heartbeat during a claim", domain.ErrClaimOpen, func() error { _, err := w.Heartbeat(); return err }},
		{"Commit(0)", domain.ErrEmptyPayload, func() error { _, err := w.Commit(0); return err }},
		{"Commit above the claim", domain.ErrCommitSize, func() error { _, err := w.Commit(51); return err }},
	} {
		if err := c.f(); !errors.Is(err, c.err) {
			t.Errorf("%s: %v, want %v", c.what, err, c.err)
		}
	}
	if _, err := w.Commit(50); err != nil {
		t.Fatalf("the claim did not stay open through the refusals: %v", err)
	}
	// Fill the channel: ErrNoSpace for a claim larger than what is left,
	// then ErrChannelFull.
	for {
		if _, err := w.Write(make([]byte, 100)); err != nil {
			break
		}
	}
	left := 16384 - int(w.WriteOffset()) - 8
	if left > 0 {
		if _, err := w.Claim(left + 1); !errors.Is(err, domain.ErrNoSpace) && !errors.Is(err, domain.ErrRecordTooLarge) {
			t.Errorf("a claim of %d with %d left: %v", left+1, left, err)
		}
	}
	// An open claim is given up by Close: nothing of it is published.
	before := w.WriteOffset()
	if left > 0 {
		b, err := w.Claim(left)
		if err != nil {
			t.Fatal(err)
		}
		copy(b, bytes.Repeat([]byte{0xAB}, len(b)))
	}
	w.Close()
	if bytes.Contains(st.Bytes()[domain.DataOffset+uint64(before)+8:], []byte{0xAB}) {
		t.Error("Close left the bytes of the open claim in the channel")
	}
	if _, err := w.Claim(1); !errors.Is(err, domain.ErrWriterClosed) {
		t.Errorf("Claim after Close: %v", err)
	}
}

// TestClaimAllocatesNothing: Claim and Commit, plain and enveloped, on a
// single-writer and a multi-writer channel, allocate nothing.
func TestClaimAllocatesNothing(t *testing.T) {
	for _, c := range []struct {
		env   domain.Envelope
		multi bool
	}{{0, false}, {domain.EnvelopeAll, false}, {0, true}, {domain.EnvelopeAll, true}} {
		env := c.env
		h, err := domain.NewHeader(domain.Hints{ChannelID: 3, Capacity: 1 << 20, MaxMsgLen: 200, Timeout: 60, TickUnit: domain.Nanos, Envelope: env, MultiWriter: c.multi})
		if err != nil {
			t.Fatal(err)
		}
		w, err := domain.NewWriter(memory.New(h.FileSize()).Share(), h, codecs.Raw{}, domain.WithCoarseClock(time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		if a := testing.AllocsPerRun(1000, func() {
			b, err := w.Claim(72)
			if err != nil {
				t.Fatal(err)
			}
			b[0] = 1
			if _, err := w.Commit(72); err != nil {
				t.Fatal(err)
			}
		}); a != 0 {
			t.Errorf("%v, multi-writer %v: Claim+Commit: %v allocations", env, c.multi, a)
		}
		w.Close()
	}
}

// BenchmarkClaim measures Claim+Commit of a 72-byte record filled in
// place, beside Write of the same bytes, plain and with the envelope.
func BenchmarkClaim(b *testing.B) {
	for _, env := range []domain.Envelope{0, domain.EnvelopeAll} {
		h, err := domain.NewHeader(domain.Hints{ChannelID: 1, Capacity: 1 << 20, MaxMsgLen: 128, Timeout: 3600, TickUnit: domain.Nanos, Envelope: env})
		if err != nil {
			b.Fatal(err)
		}
		st := memory.New(h.FileSize())
		fresh := func() *domain.Writer[[]byte] {
			w, _ := domain.NewWriter(st.Share(), h, codecs.Raw{}, domain.WithCoarseClock(time.Millisecond))
			return w
		}
		b.Run(fmt.Sprintf("ClaimCommit/envelope=%v", env), func(b *testing.B) {
			w := fresh()
			b.SetBytes(72)
			b.ReportAllocs()
			for range b.N {
				p, err := w.Claim(72)
				if err != nil {
					w.Close()
					w = fresh()
					p, _ = w.Claim(72)
				}
				p[0], p[71] = 1, 2
				w.Commit(72)
			}
			w.Close()
		})
	}
}

// TestMultiClaimIsWrite: on a multi-writer channel, a writer's claims
// (filled in place, lengths on and off a whole number of words) committed
// whole make byte for byte the channel that Write makes of the same
// payloads, plain and with every envelope field, up to the claim that
// does not fit, which ends both channels. Committed in part as well (the
// rest of a claim becomes heartbeats, so the images then differ), they
// are read back as committed.
func TestMultiClaimIsWrite(t *testing.T) {
	for _, env := range []domain.Envelope{0, domain.EnvelopeAll} {
		for _, parts := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v/parts=%v", env, parts), func(t *testing.T) {
				multiClaimIsWrite(t, env, parts)
			})
		}
	}
}

func multiClaimIsWrite(t *testing.T, env domain.Envelope, parts bool) {
	h, err := domain.NewHeader(domain.Hints{ChannelID: 4, Capacity: 1 << 14, MaxMsgLen: 200, Timeout: 60, TickUnit: domain.Nanos, Envelope: env, Clock: fixedClock, MultiWriter: true})
	if err != nil {
		t.Fatal(err)
	}
	byWrite, byClaim, ww, wc := writerPair(t, h, func(s *memory.Storage) ports.Storage { return s.Share() })
	rng := rand.New(rand.NewPCG(8, uint64(env)))
	var want [][]byte
	whole, n := 0, 0
	for {
		n = 1 + rng.IntN(int(h.MaxPayload()))
		if rng.IntN(2) == 0 {
			n = 8 * (1 + rng.IntN(int(h.MaxPayload())/8))
		}
		buf, ok := fillClaim(t, wc, n, rng)
		if !ok {
			break
		}
		m := n
		if parts && rng.IntN(3) == 0 {
			m = 1 + rng.IntN(n)
		}
		if m == n && n%8 == 0 {
			whole++
		}
		p := bytes.Clone(buf[:m])
		if got, err := wc.Commit(m); err != nil || got != int(domain.RecordSize(uint64(m)+env.Len())) {
			t.Fatalf("Commit(%d) of a claim of %d = %d, %v", m, n, got, err)
		}
		if _, err := wc.Commit(m); !errors.Is(err, domain.ErrNoClaim) {
			t.Fatalf("a second Commit: %v, want ErrNoClaim", err)
		}
		if !parts {
			if _, err := ww.Write(p); err != nil {
				t.Fatal(err)
			}
		}
		want = append(want, p)
	}
	if whole < 10 {
		t.Fatalf("only %d whole-word claims committed whole: the test lost its point", whole)
	}
	if !parts {
		// the claim that did not fit, written: it ends this channel too
		if _, err := ww.Write(make([]byte, n)); !errors.Is(err, domain.ErrChannelFull) {
			t.Fatalf("Write of %d bytes, the claim that ended the other channel: %v, want ErrChannelFull", n, err)
		}
		if img, wimg := byClaim.Bytes(), byWrite.Bytes(); !bytes.Equal(img, wimg) {
			t.Fatalf("the claimed channel differs from the written one from byte %d", firstDiff(img, wimg))
		}
	}
	readsBack(t, mustReader(t, byClaim.Share()), want, domain.ErrChannelFull)
}
