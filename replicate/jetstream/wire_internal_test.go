package jetstream

import (
	"errors"
	"testing"

	"github.com/nats-io/nats.go"

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
