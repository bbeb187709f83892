package jetstream

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kekbit-go/kekbit/domain"
)

func TestSubjectMatches(t *testing.T) {
	for _, c := range []struct {
		pattern, subject string
		want             bool
	}{
		{"kekbit.a", "kekbit.a", true},
		{"kekbit.a", "kekbit.b", false},
		{"kekbit.*", "kekbit.a", true},
		{"kekbit.*", "kekbit.a.b", false},
		{"kekbit.>", "kekbit.a.b", true},
		{"kekbit.>", "kekbit", false},
		{">", "a", true},
		{"*.a", "b.a", true},
		{"kekbit.a.b", "kekbit.a", false},
	} {
		if got := subjectMatches(c.pattern, c.subject); got != c.want {
			t.Errorf("%q on %q: %v", c.pattern, c.subject, got)
		}
	}
}

func TestMessagesRoundTrip(t *testing.T) {
	h, err := domain.NewHeader(domain.Hints{WriterID: 5, ChannelID: 0xabc, Capacity: 1 << 16, MaxMsgLen: 100, Timeout: 9, TickUnit: domain.Micros})
	if err != nil {
		t.Fatal(err)
	}
	m := headerMessage("s", h)
	e, err := parseElement(1, m.Header, m.Data)
	if err != nil || e.marker != MarkerHeader {
		t.Fatal(e, err)
	}
	if got, err := e.header(); err != nil || got != h {
		t.Fatal(got, err)
	}
	if m.Header.Get(HeaderTickUnit) != "micros" || m.Header.Get(HeaderCapacity) != "65536" || m.Header.Get(HeaderWriterID) != "5" {
		t.Fatal(m.Header)
	}

	r := recordMessage("s", hexID(0xabc), 64, 16, []byte("payload"))
	e, err = parseElement(2, r.Header, r.Data)
	if err != nil || e.marker != "" || e.pos != 64 || e.gap != 16 || string(e.data) != "payload" || e.endPos() != 64+16 {
		t.Fatal(e, err)
	}
	if r.Header.Get("Nats-Msg-Id") != MsgID(0xabc, 64) {
		t.Fatal(r.Header)
	}
	r = recordMessage("s", hexID(0xabc), 8, 0, []byte("x"))
	if _, ok := r.Header[HeaderGap]; ok {
		t.Fatal("a gap of 0 is sent")
	}

	end := markerMessage("s", hexID(0xabc), MarkerEnd, EndFull, 800, 8)
	e, err = parseElement(3, end.Header, end.Data)
	if err != nil || e.marker != MarkerEnd || e.end != EndFull || e.pos != 800 || e.endPos() != 800 {
		t.Fatal(e, err)
	}
	idle := markerMessage("s", hexID(0xabc), MarkerIdle, "", 808, 8)
	if idle.Header.Get("Nats-Msg-Id") != "0000000000000abc:idle:808" || end.Header.Get("Nats-Msg-Id") != "0000000000000abc:end" {
		t.Fatal(idle.Header, end.Header)
	}

	for _, bad := range []nats.Header{
		{},
		{HeaderChannel: {"xyz"}},
		{HeaderChannel: {"1"}, HeaderPos: {"7"}},
		{HeaderChannel: {"1"}, HeaderPos: {"8"}, HeaderGap: {"16"}},
		{HeaderChannel: {"1"}, HeaderMarker: {"what"}},
		{HeaderChannel: {"1"}, HeaderMarker: {MarkerEnd}, HeaderPos: {"8"}, HeaderEnd: {"gone"}},
		{HeaderChannel: {"1"}, HeaderPos: {"8"}}, // a record with no payload
	} {
		if _, err := parseElement(9, bad, nil); !errors.Is(err, ErrBadMessage) {
			t.Errorf("%v: %v", bad, err)
		}
	}
	hm := headerMessage("s", h)
	hm.Header[HeaderChannel] = []string{hexID(1)}
	e, _ = parseElement(1, hm.Header, hm.Data)
	if _, err := e.header(); !errors.Is(err, ErrBadMessage) {
		t.Errorf("header marker of another channel: %v", err)
	}
}

// recordMessage builds the message that streams of earlier versions
// (one message per record) held for the record at pos, which follows
// gap bytes of heartbeats. It copies payload.
func recordMessage(subject, channel string, pos, gap uint64, payload []byte) *nats.Msg {
	m := &nats.Msg{Subject: subject, Data: append([]byte(nil), payload...), Header: make(nats.Header, 5)}
	p := strconv.FormatUint(pos, 10)
	m.Header[HeaderChannel] = []string{channel}
	m.Header[HeaderPos] = []string{p}
	if gap != 0 {
		m.Header[HeaderGap] = []string{strconv.FormatUint(gap, 10)}
	}
	m.Header[jetstream.MsgIDHeader] = []string{channel + ":" + p}
	return m
}

// TestBatchRoundTrip: a batch of records and runs of heartbeats decodes
// to its elements at their positions; a batch that lies about its end,
// has another version or is cut short is refused.
func TestBatchRoundTrip(t *testing.T) {
	var b batch
	b.reset(64)
	b.heartbeatsTo(80) // two heartbeats
	b.record([]byte("one"), 0)
	b.record(make([]byte, 300), 0)
	b.heartbeatsTo(b.end + 8)
	m := b.message("s", hexID(0xabc))
	wantEnd := uint64(80 + domain.RecordSize(3) + domain.RecordSize(300) + 8)
	if b.end != wantEnd || b.records != 2 || b.elements != 5 {
		t.Fatalf("end %d records %d elements %d", b.end, b.records, b.elements)
	}
	if m.Header.Get(HeaderPos) != "64" || m.Header.Get(HeaderNext) != strconv.FormatUint(wantEnd, 10) ||
		m.Header.Get(jetstream.MsgIDHeader) != BatchMsgID(0xabc, 64, wantEnd) || m.Data[0] != BatchVersion {
		t.Fatal(m.Header, m.Data[:1])
	}
	e, err := parseElement(7, m.Header, m.Data)
	if err != nil || e.marker != MarkerBatch || e.endPos() != wantEnd {
		t.Fatal(e, err)
	}
	type got struct {
		marker string
		pos    uint64
		gap    uint64
		n      int
	}
	var els []got
	if err := e.each(domain.Header{}, func(el *element) error {
		if el.seq != 7 || el.channel != 0xabc {
			t.Errorf("element %+v", el)
		}
		els = append(els, got{el.marker, el.pos, el.gap, len(el.data)})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []got{{MarkerIdle, 72, 8, 0}, {MarkerIdle, 80, 8, 0}, {"", 80, 0, 3}, {"", 80 + domain.RecordSize(3), 0, 300},
		{MarkerIdle, wantEnd, 8, 0}}
	if fmt.Sprint(els) != fmt.Sprint(want) {
		t.Fatalf("elements\n got %v\nwant %v", els, want)
	}
	if l, err := e.last(domain.Header{}); err != nil || l.marker != MarkerIdle || l.pos != wantEnd {
		t.Fatal(l, err)
	}

	// With an envelope of 24 bytes (CRC, sequence number, time), records
	// take 24 more bytes each, and their times go with them.
	var be batch
	be.env, be.timed = domain.EnvelopeAll.Len(), true
	be.reset(0)
	be.record([]byte("one"), 1_700_000_000_123)
	be.record([]byte("two"), 1_700_000_000_124)
	eb, err := parseElement(8, be.message("s", hexID(1)).Header, be.buf)
	if err != nil || be.end != 2*domain.RecordSize(27) {
		t.Fatal(be.end, err)
	}
	var at []uint64
	if err := eb.each(domain.Header{Envelope: domain.EnvelopeAll}, func(el *element) error {
		at = append(at, el.pos, el.endPos(), el.time)
		return nil
	}); err != nil ||
		fmt.Sprint(at) != fmt.Sprint([]uint64{0, domain.RecordSize(27), 1_700_000_000_123, domain.RecordSize(27), 2 * domain.RecordSize(27), 1_700_000_000_124}) {
		t.Fatal(at, err)
	}
	if err := eb.each(domain.Header{}, func(*element) error { return nil }); !errors.Is(err, ErrBadMessage) {
		t.Fatalf("read without its envelope: %v", err)
	}

	bad := func(what string, h nats.Header, data []byte) {
		t.Helper()
		e, err := parseElement(7, h, data)
		if err == nil {
			err = e.each(domain.Header{}, func(*element) error { return nil })
		}
		if !errors.Is(err, ErrBadMessage) {
			t.Errorf("%s: %v", what, err)
		}
	}
	short := nats.Header(http.Header(m.Header).Clone())
	short[HeaderNext] = []string{strconv.FormatUint(wantEnd+8, 10)}
	bad("an end past its elements", short, m.Data)
	long := nats.Header(http.Header(m.Header).Clone())
	long[HeaderNext] = []string{strconv.FormatUint(wantEnd-8, 10)}
	bad("an end before its elements", long, m.Data)
	v2 := append([]byte{2}, m.Data[1:]...)
	bad("version 2", m.Header, v2)
	bad("no payload", m.Header, nil)
	bad("cut short", m.Header, m.Data[:len(m.Data)-20])
	empty := nats.Header(http.Header(m.Header).Clone())
	empty[HeaderNext] = []string{"64"}
	bad("empty", empty, []byte{BatchVersion})
	if _, err := parseElement(7, m.Header, v2); err == nil || !strings.Contains(err.Error(), "version 2") {
		t.Errorf("version 2 is refused with %v", err)
	}
}

// TestBatchAllocs: adding records and heartbeats to a batch allocates
// nothing once its buffer has grown.
func TestBatchAllocs(t *testing.T) {
	var b batch
	p := make([]byte, 72)
	fill := func() {
		b.reset(0)
		for range 500 {
			b.heartbeatsTo(b.end + 8)
			b.record(p, 0)
		}
		b.flushBeats()
	}
	fill()
	if n := testing.AllocsPerRun(100, fill); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}
