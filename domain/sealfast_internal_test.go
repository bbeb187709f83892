package domain

import (
	"bytes"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/codecs"
)

// TestWriteSealedFast: writeSealedFast leaves the channel writeSealed
// leaves, record for record, and the same results: two writers take the
// same random writes (empty, too long, up to full) on two channels, one
// with the fast path and one without, for every envelope with a CRC (the
// time from the same fixed coarse clock word); the bytes must agree, and
// the fast path must have been taken.
func TestWriteSealedFast(t *testing.T) {
	for _, env := range []Envelope{EnvelopeCRC, EnvelopeCRC | EnvelopeSeq, EnvelopeCRC | EnvelopeTime, EnvelopeAll} {
		h, err := NewHeader(Hints{ChannelID: 1, Capacity: 1 << 14, MaxMsgLen: 200, Timeout: 60, TickUnit: Nanos, Envelope: env})
		if err != nil {
			t.Fatal(err)
		}
		var clock atomic.Uint64
		clock.Store(0x1234_5678_9abc)
		sts := [2]*memory.Storage{memory.New(h.FileSize()), memory.New(h.FileSize())}
		var ws [2]*Writer[[]byte]
		for i := range ws {
			if ws[i], err = NewWriter(sts[i].Share(), h, codecs.Raw{}); err != nil {
				t.Fatal(err)
			}
			ws[i].coarseRes, ws[i].coarseTicks = 1, &clock
		}
		ws[0].fastSeal = ws[0].verbatim && ws[0].crcOn && ws[0].words != nil && h.Envelope.Has(EnvelopeCRC)
		ws[1].fastSeal = false
		if !ws[0].fastSeal {
			t.Fatalf("%v: the fast path is off", env)
		}
		rng := rand.New(rand.NewPCG(uint64(env), 2))
		fast := 0
		for k := 0; ; k++ {
			p := make([]byte, rng.IntN(int(h.MaxMsgLen)+12))
			for i := range p {
				p[i] = byte(rng.Uint32())
			}
			if _, ok := ws[0].writeSealedFast(p); ok {
				fast++
				// undo it, to compare Write's results below from the same state
				ws[0].pos, ws[0].records = ws[1].pos, ws[1].records
			}
			n0, err0 := ws[0].Write(p)
			n1, err1 := ws[1].Write(p)
			if n0 != n1 || (err0 == nil) != (err1 == nil) || (err0 != nil && err0.Error() != err1.Error()) {
				t.Fatalf("%v write %d of %d bytes: fast (%d, %v), slow (%d, %v)", env, k, len(p), n0, err0, n1, err1)
			}
			if err0 == ErrChannelFull {
				break
			}
		}
		clock.Add(1)
		if !bytes.Equal(sts[0].Bytes(), sts[1].Bytes()) {
			t.Fatalf("%v: the channels differ", env)
		}
		if fast < 50 {
			t.Fatalf("%v: the fast path took %d writes", env, fast)
		}
	}
}
