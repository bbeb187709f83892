package domain_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/internal/vectortest"
)

// readEnds are the errors a Read may end with on any input.
var readEnds = []error{domain.ErrNothingYet, domain.ErrClosed, domain.ErrChannelFull, domain.ErrCorrupt, domain.ErrTruncated}

func addVectorSeeds(f *testing.F, add func(image []byte)) {
	vs, err := vectortest.Load()
	if err != nil {
		f.Fatal(err)
	}
	for _, v := range vs {
		add(v.Image)
	}
}

// FuzzDecodeHeader: decoding never panics, fails only with a *HeaderError,
// and a header it accepts encodes back to the same bytes.
func FuzzDecodeHeader(f *testing.F) {
	addVectorSeeds(f, func(img []byte) { f.Add(img[:domain.HeaderLen]) })
	f.Add([]byte("*KEKBIT*"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := domain.DecodeHeader(b)
		if err != nil {
			var he *domain.HeaderError
			if !errors.As(err, &he) || !errors.Is(err, domain.ErrInvalidHeader) || he.Field == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		out, _ := h.MarshalBinary()
		if !bytes.Equal(out[:57], b[:57]) {
			t.Fatalf("re-encoded header differs:\n% x\n% x", out[:57], b[:57])
		}
	})
}

// fuzzHeader is the header put in front of fuzzed data regions.
func fuzzHeader(t testing.TB) []byte {
	h, err := domain.NewHeader(domain.Hints{ChannelID: 1, Capacity: 16384, MaxMsgLen: 100, Timeout: 1, TickUnit: domain.Secs, Clock: fixedClock})
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, domain.DataOffset)
	hb, _ := h.MarshalBinary()
	copy(b, hb)
	return b
}

// FuzzReadRegion reads an arbitrary data region (cut anywhere) behind a
// valid header: no panic, no hang, no record outside the file or crossing
// the capacity, positions increasing, and every end one of the typed
// errors. MoveTo to an arbitrary position must behave as well.
func FuzzReadRegion(f *testing.F) {
	addVectorSeeds(f, func(img []byte) { f.Add(img[domain.DataOffset:], uint64(8), 3) })
	var words []byte
	for _, w := range []uint64{0, 5, 0x6f6c6c65_68, domain.Watermark, 200, domain.CloseMark} {
		words = binary.LittleEndian.AppendUint64(words, w)
	}
	f.Add(words, uint64(16), 0)
	f.Fuzz(func(t *testing.T, region []byte, moveTo uint64, max int) {
		img := append(fuzzHeader(t), region...)
		r, err := domain.NewReader(memory.FromImage(img))
		if err != nil {
			t.Fatal(err)
		}
		fileEnd := uint64(len(region))
		last := int64(-1)
		for range 3 {
			start := r.Position()
			n, err := r.Read(func(rec domain.Record) error {
				pos, p := rec.Position, rec.Payload
				end := pos + domain.RecordSize(uint64(len(p)))
				if int64(pos) <= last || end > fileEnd || end > 16384 || len(p) == 0 || len(p) > 112 {
					t.Fatalf("record at %d of %d bytes (file region %d, last %d)", pos, len(p), fileEnd, last)
				}
				if !bytes.Equal(p, region[pos+8:pos+8+uint64(len(p))]) {
					t.Fatalf("payload at %d is not the file's bytes", pos)
				}
				last = int64(pos)
				return nil
			}, max)
			if uint64(n) != r.Position()-start {
				t.Fatalf("read %d bytes but moved from %d to %d", n, start, r.Position())
			}
			if err != nil && !isOneOf(err, readEnds) {
				t.Fatalf("untyped read end %v", err)
			}
		}
		before := r.Position()
		if err := r.MoveTo(moveTo); err != nil {
			if !errors.Is(err, domain.ErrUnaligned) && !errors.Is(err, domain.ErrUnavailable) {
				t.Fatalf("MoveTo(%d): untyped %v", moveTo, err)
			}
			if r.Position() != before {
				t.Fatalf("failed MoveTo moved the reader")
			}
		} else if r.Position() != moveTo {
			t.Fatalf("MoveTo(%d) left the reader at %d", moveTo, r.Position())
		}
		if _, err := r.Read(func(domain.Record) error { return nil }, 0); err != nil && !isOneOf(err, readEnds) {
			t.Fatalf("untyped read end after MoveTo: %v", err)
		}
	})
}

// FuzzWriteThenRead writes payloads of fuzzed lengths and reads them back.
func FuzzWriteThenRead(f *testing.F) {
	f.Add([]byte{1, 0, 112, 113, 7, 255})
	f.Fuzz(func(t *testing.T, lengths []byte) {
		h, _ := domain.NewHeader(domain.Hints{Capacity: 16384, MaxMsgLen: 100, Timeout: 1, TickUnit: domain.Secs})
		mem := memory.New(h.FileSize())
		w, _ := domain.NewWriter(mem.Share(), h, codecs.Raw{})
		var want [][]byte
		for i, l := range lengths {
			p := bytes.Repeat([]byte{byte(i)}, int(l))
			if _, err := w.Write(p); err == nil {
				want = append(want, p)
			} else if !isOneOf(err, []error{domain.ErrEmptyPayload, domain.ErrRecordTooLarge, domain.ErrNoSpace, domain.ErrChannelFull}) {
				t.Fatalf("write of %d: %v", l, err)
			}
		}
		w.Close()
		r, _ := domain.NewReader(mem)
		var got [][]byte
		_, err := r.Read(func(rec domain.Record) error { p := rec.Payload; got = append(got, bytes.Clone(p)); return nil }, 0)
		if !errors.Is(err, domain.ErrClosed) && !errors.Is(err, domain.ErrChannelFull) {
			t.Fatalf("end %v", err)
		}
		if len(got) != len(want) {
			t.Fatalf("%d records back, %d written", len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("record %d differs", i)
			}
		}
	})
}

func isOneOf(err error, targets []error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}
