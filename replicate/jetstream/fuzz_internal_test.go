package jetstream

import (
	"encoding/binary"
	"errors"
	"math"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/kekbit-go/kekbit/domain"
)

// fuzzHeader is the header of the channel the fuzzed messages are read
// for: 64 KiB, payloads of at most 200 bytes, the envelope env.
func fuzzHeader(t testing.TB, env domain.Envelope) domain.Header {
	t.Helper()
	h, err := domain.NewHeader(domain.Hints{WriterID: 1, ChannelID: 0xabc, Capacity: 1 << 16, MaxMsgLen: 200, Timeout: 1,
		TickUnit: domain.Nanos, Envelope: env})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// batchHeaders are the headers of a batch of channel 0xabc from pos to
// next.
func batchHeaders(pos, next string) nats.Header {
	return nats.Header{HeaderChannel: {hexID(0xabc)}, HeaderMarker: {MarkerBatch}, HeaderPos: {pos}, HeaderNext: {next}}
}

// realBatches are batches as the replicator builds them, for a channel
// with the envelope env: records, heartbeat runs, a record of the max
// payload, an empty-handed heartbeat-only batch.
func realBatches(h domain.Header) []*nats.Msg {
	b := batch{env: h.Envelope.Len(), timed: h.Envelope.Has(domain.EnvelopeTime)}
	var out []*nats.Msg
	b.reset(0)
	b.record([]byte("one"), 1_700_000_000_000_000_001)
	b.heartbeatsTo(b.end + 24)
	b.record(make([]byte, h.MaxPayload()), 1_700_000_000_000_000_002)
	b.record([]byte("three, a little longer"), 1_700_000_000_000_000_003)
	out = append(out, b.message("s", hexID(h.ChannelID)))
	b.buf = nil // the message holds the buffer
	b.reset(4096)
	b.heartbeatsTo(4096 + 8*1000)
	out = append(out, b.message("s", hexID(h.ChannelID)))
	b.buf = nil
	b.reset(8)
	b.heartbeatsTo(16)
	b.record([]byte{0}, 0)
	b.heartbeatsTo(b.end + 8)
	out = append(out, b.message("s", hexID(h.ChannelID)))
	return out
}

// checkElements checks what walk, each, last and firstFrom make of a
// message that checked: its elements follow one another from its
// position to its end, within the channel's limits, and the three agree.
func checkElements(t *testing.T, h domain.Header, e *element) {
	t.Helper()
	var els []element
	if err := e.each(h, func(el *element) error { els = append(els, *el); return nil }); err != nil {
		t.Fatalf("each after a check: %v", err)
	}
	if len(els) == 0 {
		t.Fatal("no elements")
	}
	if uint64(len(els)) > uint64(h.Capacity)/8+1 {
		t.Fatalf("%d elements in a channel of %d bytes", len(els), h.Capacity)
	}
	env := h.Envelope.Len()
	prev := e.pos - e.gap
	if e.marker != MarkerBatch {
		prev = els[0].pos - els[0].gap
	}
	for i, el := range els {
		if el.pos-el.gap != prev {
			t.Fatalf("element %d at %d after %d does not follow %d", i, el.pos, el.gap, prev)
		}
		if el.marker == "" {
			if uint64(len(el.data)) > uint64(h.MaxPayload()) || len(el.data) == 0 {
				t.Fatalf("a record of %d bytes", len(el.data))
			}
			el.env = env
		}
		if end := el.endPos(); end > uint64(h.Capacity) || end < el.pos {
			t.Fatalf("element %d at %d ends at %d, capacity %d", i, el.pos, end, h.Capacity)
		}
		if el.timed && el.time > math.MaxInt64 {
			t.Fatalf("time %d", el.time)
		}
		prev = el.endPos()
	}
	if e.marker == MarkerBatch && prev != e.next {
		t.Fatalf("elements end at %d, the batch at %d", prev, e.next)
	}
	l, err := e.last(h)
	if err != nil || l.pos != els[len(els)-1].pos || l.marker != els[len(els)-1].marker {
		t.Fatalf("last %+v %v, each's %+v", l, err, els[len(els)-1])
	}
	for _, target := range []uint64{0, els[0].pos, els[len(els)/2].pos, l.pos, l.pos + 8} {
		for rank := rankIdle; rank <= rankEnd; rank++ {
			var want *element
			for i := range els {
				if !els[i].before(e.channel, target, rank) {
					want = &els[i]
					break
				}
			}
			got, err := e.firstFrom(h, e.channel, target, rank)
			if err != nil || (got == nil) != (want == nil) || got != nil && (got.pos != want.pos || got.marker != want.marker) {
				t.Fatalf("firstFrom(%d, %d): %+v %v, want %+v", target, rank, got, err, want)
			}
		}
	}
}

// FuzzBatch: a message of the replication stream (its headers
// Kekbit-Channel, -Marker, -Pos, -Gap, -Next and its payload, a batch or
// any other) never panics nor hangs the decoder, whatever lengths and
// counts it claims; it is refused with ErrBadMessage, or its elements
// follow one another from its position to its end within the channel's
// limits, and each, last and firstFrom agree on them.
func FuzzBatch(f *testing.F) {
	for _, env := range []domain.Envelope{0, domain.EnvelopeAll} {
		for _, m := range realBatches(fuzzHeader(f, env)) {
			f.Add(uint8(env), m.Header.Get(HeaderMarker), m.Header.Get(HeaderPos), m.Header.Get(HeaderNext), "", m.Data)
		}
	}
	huge := binary.AppendUvarint([]byte{BatchVersion, 0}, 1<<62)
	f.Add(uint8(0), MarkerBatch, "0", strconv.FormatUint(8<<40, 10), "", huge)
	f.Add(uint8(0), MarkerBatch, "0", "64", "", binary.AppendUvarint([]byte{BatchVersion}, 1<<60))
	f.Add(uint8(0), MarkerBatch, strconv.FormatUint(math.MaxUint64-15, 10), strconv.FormatUint(math.MaxUint64-7, 10), "", append([]byte{BatchVersion, 100}, make([]byte, 100)...))
	f.Add(uint8(0), "", "64", "", "16", []byte("a record"))
	f.Add(uint8(0), MarkerIdle, "800", "", "800", []byte(nil))
	f.Add(uint8(0), MarkerEnd, "65536", "", "", []byte(nil))
	f.Add(uint8(0x80), MarkerBatch, "0", strconv.FormatUint(8<<40, 10), "", huge)
	f.Add(uint8(0xc0), MarkerBatch, "0", strconv.FormatUint(8<<40, 10), "", binary.AppendUvarint([]byte{BatchVersion, 0}, 1<<40))
	f.Add(uint8(0x80), MarkerBatch, "0", strconv.FormatUint(8<<40, 10), "", binary.AppendUvarint([]byte{BatchVersion, 0}, 1<<40))
	f.Fuzz(func(t *testing.T, env uint8, marker, pos, next, gap string, data []byte) {
		h := fuzzHeader(t, domain.Envelope(env)&domain.EnvelopeAll)
		ch := uint64(0xabc)
		if env&0x80 != 0 {
			// A message of the segment before or after h's in a journal's
			// stream: no limits of h's channel, only its positions (and no
			// walk of each heartbeat, which may be 2^61 of them).
			ch--
			if env&0x40 != 0 {
				ch += 2
			}
		}
		hdr := nats.Header{HeaderChannel: {hexID(ch)}, HeaderMarker: {marker}, HeaderPos: {pos}, HeaderNext: {next}, HeaderGap: {gap}, HeaderEnd: {EndClosed}}
		e, err := parseElement(3, hdr, data)
		if err == nil && e.marker != MarkerHeader {
			err = e.check(h)
			switch {
			case err == nil && ch == h.ChannelID:
				checkElements(t, h, e)
			case err == nil:
				l, err := e.last(h)
				if err != nil || l.endPos() != e.endPos() && e.marker == MarkerBatch {
					t.Fatalf("last %+v %v of a batch ending at %d", l, err, e.endPos())
				}
				for _, target := range []uint64{0, e.pos, e.endPos()} {
					if f, err := e.firstFrom(h, h.ChannelID, target, rankRecord); err != nil || (f == nil) != (ch < h.ChannelID) {
						t.Fatalf("firstFrom of segment %x in one of segment %x: %+v %v", h.ChannelID, ch, f, err)
					}
					if f, err := e.firstFrom(h, ch, target, rankIdle); err != nil || f == nil && target <= e.pos {
						t.Fatalf("firstFrom(%d): %+v %v", target, f, err)
					}
				}
			}
		}
		if err != nil && !errors.Is(err, ErrBadMessage) {
			t.Fatalf("untyped error %v", err)
		}
	})
}

// TestBatchHostile: messages that claim more than they hold or than the
// channel holds, that overflow positions or do not end where they say,
// are refused with ErrBadMessage naming what is wrong, before any of
// their elements is handed on, at once and with little memory whatever
// they claim. (Before walk checked a message whole, a batch of 2^40
// heartbeats kept last, and so a mirror's or replicator's bisection,
// busy for hours; a record whose end wrapped around 2^64 was handed on
// before its batch was refused; a batch ending past the channel's
// capacity or a record longer than its max payload were found only by
// the mirror's writer, after the heartbeats before them were written.)
func TestBatchHostile(t *testing.T) {
	h := fuzzHeader(t, 0)
	ht := fuzzHeader(t, domain.EnvelopeAll)
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	beats := func(c uint64) []byte { return binary.AppendUvarint([]byte{BatchVersion, 0}, c) }
	record := func(n int, claim uint64) []byte {
		return append(binary.AppendUvarint([]byte{BatchVersion}, claim), make([]byte, n)...)
	}
	timedRecord := func(t uint64) []byte {
		return append(binary.AppendUvarint([]byte{BatchVersion, 3}, t), "abc"...)
	}
	recSize := domain.RecordSize(3)
	mp := uint64(h.MaxPayload())
	for _, c := range []struct {
		what   string
		h      domain.Header
		hdr    nats.Header
		data   []byte
		naming string
	}{
		{"2^62 heartbeats claimed", h, batchHeaders("0", u(8<<60)), beats(1 << 62), "past the channel's capacity"},
		{"2^40 heartbeats in a batch as long", h, batchHeaders("0", u(8<<40)), beats(1 << 40), "past the channel's capacity"},
		{"more heartbeats than the batch spans", h, batchHeaders("0", "64"), beats(9), "9 heartbeats at position 0 overrun its end"},
		{"a run of no heartbeats", h, batchHeaders("0", "64"), beats(0), "a run of 0 heartbeats"},
		{"a heartbeat count cut short", h, batchHeaders("0", "64"), []byte{BatchVersion, 0, 0x80}, "a bad count of heartbeats"},
		{"a length of 2^60", h, batchHeaders("0", "64"), record(10, 1<<60), "a record of 1152921504606846976 bytes at position 0, 10 left"},
		{"a length of 11 varint bytes", h, batchHeaders("0", "64"), []byte{BatchVersion, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1}, "a bad length"},
		{"a position that wraps around (no limits: another segment's)", domain.Header{}, batchHeaders(u(math.MaxUint64-15), u(math.MaxUint64-7)), record(100, 100), "overruns its end"},
		{"Next before Pos", h, batchHeaders("64", "8"), record(3, 3), "Kekbit-Next"},
		{"Next at Pos", h, batchHeaders("64", "64"), record(3, 3), "Kekbit-Next"},
		{"elements ending before Next", h, batchHeaders("0", u(recSize+8)), record(3, 3), "its elements end at 16, not at its Kekbit-Next"},
		{"elements ending after Next", h, batchHeaders("0", "8"), record(3, 3), "overruns its end"},
		{"Next past the capacity", h, batchHeaders(u(1<<16), u(1<<16+8)), beats(1), "past the channel's capacity 65536"},
		{"a record longer than the max payload", h, batchHeaders("0", u(domain.RecordSize(mp+1))), record(int(mp+1), mp+1), "more than the channel's max payload " + u(mp)},
		{"a time past the tick unit", ht, batchHeaders("0", u(domain.RecordSize(3+24))), timedRecord(math.MaxUint64), "more than Nanos ticks can hold"},
		{"a time cut short", ht, batchHeaders("0", u(domain.RecordSize(3+24))), []byte{BatchVersion, 3, 0x80}, "a bad time"},
		{"a time field on an untimed channel", h, batchHeaders("0", u(recSize)), timedRecord(1_700_000_000), "left in the message"},
		{"no time field on a timed channel", ht, batchHeaders("0", u(domain.RecordSize(3+24))), record(3, 3), "left in the message"},
		{"an old record past the capacity", h, nats.Header{HeaderChannel: {hexID(0xabc)}, HeaderPos: {u(1 << 16)}}, []byte("x"), "past the channel's capacity"},
		{"an old record wrapping around", h, nats.Header{HeaderChannel: {hexID(0xabc)}, HeaderPos: {u(math.MaxUint64 - 7)}}, []byte("x"), "past the largest position"},
		{"an old record longer than the max payload", h, nats.Header{HeaderChannel: {hexID(0xabc)}, HeaderPos: {"0"}}, make([]byte, mp+1), "max payload"},
		{"an idle marker past the capacity", h, nats.Header{HeaderChannel: {hexID(0xabc)}, HeaderMarker: {MarkerIdle}, HeaderPos: {u(8 << 40)}, HeaderGap: {u(8 << 40)}}, nil, "past the channel's capacity"},
		{"an end marker past the capacity", h, nats.Header{HeaderChannel: {hexID(0xabc)}, HeaderMarker: {MarkerEnd}, HeaderPos: {u(8 << 40)}, HeaderEnd: {EndFull}}, nil, "past the channel's capacity"},
		{"a gap past the position", h, nats.Header{HeaderChannel: {hexID(0xabc)}, HeaderPos: {"8"}, HeaderGap: {"16"}}, []byte("x"), "Kekbit-Gap"},
		{"a position that is no number", h, batchHeaders("+8", "16"), beats(1), "Kekbit-Pos"},
		{"a position of 2^64", h, batchHeaders("18446744073709551616", "16"), beats(1), "Kekbit-Pos"},
	} {
		var handed int
		var err error
		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		e, err := parseElement(5, c.hdr, c.data)
		if err == nil {
			err = e.each(c.h, func(*element) error { handed++; return nil })
			if err == nil {
				t.Errorf("%s: accepted", c.what)
				continue
			}
			if _, lerr := e.last(c.h); lerr == nil {
				t.Errorf("%s: last accepts it", c.what)
			}
			if _, ferr := e.firstFrom(c.h, 0xabc, 0, rankIdle); ferr == nil {
				t.Errorf("%s: firstFrom accepts it", c.what)
			}
		}
		runtime.ReadMemStats(&ms1)
		switch {
		case !errors.Is(err, ErrBadMessage):
			t.Errorf("%s: %v, not ErrBadMessage", c.what, err)
		case !strings.Contains(err.Error(), c.naming):
			t.Errorf("%s: %q does not say %q", c.what, err, c.naming)
		case handed != 0:
			t.Errorf("%s: %d elements handed on before it was refused", c.what, handed)
		case ms1.TotalAlloc-ms0.TotalAlloc > 64<<10:
			t.Errorf("%s: %d bytes allocated", c.what, ms1.TotalAlloc-ms0.TotalAlloc)
		}
	}
	// A real batch still reads, its last element and the first from a
	// position inside a run of heartbeats found without walking it.
	for _, m := range realBatches(ht) {
		e, err := parseElement(1, m.Header, m.Data)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.check(ht); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBatchCheckAllocs: checking a batch and finding its last element
// allocate nothing.
func TestBatchCheckAllocs(t *testing.T) {
	h := fuzzHeader(t, domain.EnvelopeAll)
	m := realBatches(h)[0]
	e, err := parseElement(1, m.Header, m.Data)
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() {
		if err := e.check(h); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("check: %v allocations", n)
	}
}
