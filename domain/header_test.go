package domain_test

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/domain"
)

var fixedNow = time.Date(2026, 11, 25, 12, 0, 0, 123456789, time.UTC)

func fixedClock() time.Time { return fixedNow }

func TestNewHeaderHints(t *testing.T) {
	for _, tc := range []struct {
		name             string
		capHint, msgHint uint32
		wantCap, wantMsg uint32
	}{
		{"zero capacity becomes the minimum", 0, 100, 16384, 112},
		{"small capacity becomes the minimum", 3000, 100, 16384, 112},
		{"capacity rounds up to 8", 16385, 100, 16392, 112},
		{"aligned capacity is kept", 30000, 100, 30000, 112},
		{"max length hint 0 gives one word", 16384, 0, 16384, 8},
		{"max length rounds up to 8", 16384, 1, 16384, 16},
		{"max length hint 112 reaches the limit", 16384, 112, 16384, 120},
		{"max length capped at capacity/128-8", 16384, 5000, 16384, 120},
		{"limit itself rounds up", 16392 + 128*3, 5000, 16776, 128},
		{"max length near uint32 does not overflow", 1 << 20, 1<<32 - 1, 1 << 20, 8184},
		{"largest capacity", domain.MaxCapacity, 0, domain.MaxCapacity, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := domain.NewHeader(domain.Hints{WriterID: 7, ChannelID: 9, Capacity: tc.capHint, MaxMsgLen: tc.msgHint, Timeout: 1000, TickUnit: domain.Micros, Clock: fixedClock})
			if err != nil {
				t.Fatal(err)
			}
			if h.Capacity != tc.wantCap || h.MaxMsgLen != tc.wantMsg {
				t.Fatalf("capacity %d max %d, want %d %d", h.Capacity, h.MaxMsgLen, tc.wantCap, tc.wantMsg)
			}
			if h.Version != domain.CurrentVersion || h.WriterID != 7 || h.ChannelID != 9 || h.Timeout != 1000 || h.TickUnit != domain.Micros {
				t.Fatalf("fields not carried over: %+v", h)
			}
			if h.CreationTime != uint64(fixedNow.UnixNano()/1000) {
				t.Fatalf("creation time %d, want %d", h.CreationTime, fixedNow.UnixNano()/1000)
			}
			if err := h.Validate(); err != nil {
				t.Fatalf("built header does not validate: %v", err)
			}
		})
	}
}

func TestNewHeaderRefusesBadHints(t *testing.T) {
	if _, err := domain.NewHeader(domain.Hints{TickUnit: domain.TickUnit(4)}); !errors.Is(err, domain.ErrInvalidHints) || !errors.Is(err, domain.ErrUnknownTickUnit) {
		t.Fatalf("unknown tick unit: %v", err)
	}
	if _, err := domain.NewHeader(domain.Hints{Capacity: 1<<32 - 1, TickUnit: domain.Nanos}); !errors.Is(err, domain.ErrInvalidHints) {
		t.Fatalf("capacity rounding past uint32: %v", err)
	}
}

func TestHeaderRoundTrip(t *testing.T) {
	h, err := domain.NewHeader(domain.Hints{WriterID: 1850, ChannelID: 42, Capacity: 30000, MaxMsgLen: 100, Timeout: 99_999_999_999, TickUnit: domain.Nanos, Clock: fixedClock})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := h.MarshalBinary()
	if len(b) != domain.HeaderLen || string(b[:8]) != "*KEKBIT*" {
		t.Fatalf("encoded header % x", b[:16])
	}
	var got domain.Header
	if err := got.UnmarshalBinary(b); err != nil || got != h {
		t.Fatalf("round trip: %+v, %v; want %+v", got, err, h)
	}
	if !got.Created().Equal(fixedNow) {
		t.Fatalf("created %v, want %v", got.Created(), fixedNow)
	}
}

func TestDecodeHeaderErrors(t *testing.T) {
	good, err := domain.NewHeader(domain.Hints{Capacity: 16384, MaxMsgLen: 100, TickUnit: domain.Nanos, Clock: fixedClock})
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	for _, tc := range []struct {
		field string
		got   uint64
		edit  func(b []byte) []byte
	}{
		{"length", 127, func(b []byte) []byte { return b[:127] }},
		{"signature", 0x2A54_4942_4B45_4B2B, func(b []byte) []byte { b[0]++; return b }},
		{"version", uint64(domain.NewVersion(1, 1, 0)), func(b []byte) []byte { le.PutUint64(b[8:], uint64(domain.NewVersion(1, 1, 0))); return b }},
		{"version", uint64(domain.NewVersion(2, 0, 0)), func(b []byte) []byte { le.PutUint64(b[8:], uint64(domain.NewVersion(2, 0, 0))); return b }},
		{"capacity", 16376, func(b []byte) []byte { le.PutUint32(b[32:], 16376); return b }},
		{"capacity", 16388, func(b []byte) []byte { le.PutUint32(b[32:], 16388); return b }},
		{"max_msg_len", 116, func(b []byte) []byte { le.PutUint32(b[36:], 116); return b }},
		{"max_msg_len", 128, func(b []byte) []byte { le.PutUint32(b[36:], 128); return b }},
		{"tick_unit", 4, func(b []byte) []byte { b[56] = 4; return b }},
	} {
		t.Run(tc.field, func(t *testing.T) {
			b, _ := good.MarshalBinary()
			_, err := domain.DecodeHeader(tc.edit(b))
			var he *domain.HeaderError
			if !errors.As(err, &he) || !errors.Is(err, domain.ErrInvalidHeader) {
				t.Fatalf("got %v, want a *HeaderError", err)
			}
			if he.Field != tc.field || he.Got != tc.got || he.Want == "" {
				t.Fatalf("got field %q want %q got %d, want %q got %d", he.Field, he.Want, he.Got, tc.field, tc.got)
			}
		})
	}
	t.Run("older version accepted", func(t *testing.T) {
		b, _ := good.MarshalBinary()
		le.PutUint64(b[8:], uint64(domain.NewVersion(0, 9, 3)))
		if h, err := domain.DecodeHeader(b); err != nil || h.Version.String() != "0.9.3" {
			t.Fatalf("got %v, %v", h.Version, err)
		}
	})
}

func TestTickUnits(t *testing.T) {
	for _, tc := range []struct {
		unit domain.TickUnit
		id   uint8
		name string
		tick time.Duration
	}{
		{domain.Nanos, 9, "Nanos", time.Nanosecond},
		{domain.Micros, 6, "Micros", time.Microsecond},
		{domain.Millis, 3, "Millis", time.Millisecond},
		{domain.Secs, 0, "Secs", time.Second},
	} {
		u, err := domain.TickUnitFromID(tc.id)
		if err != nil || u != tc.unit || u.ID() != tc.id || u.String() != tc.name || u.Duration() != tc.tick {
			t.Fatalf("id %d: %v %v %q %v", tc.id, u, err, u.String(), u.Duration())
		}
		if got := u.FromDuration(90 * time.Second); got != uint64(90*time.Second/tc.tick) {
			t.Fatalf("%s: 90s is %d ticks", tc.name, got)
		}
		if got := u.ToDuration(5); got != 5*tc.tick {
			t.Fatalf("%s: 5 ticks is %v", tc.name, got)
		}
		if got := u.At(fixedNow); got != uint64(fixedNow.UnixNano()/int64(tc.tick)) {
			t.Fatalf("%s: At = %d", tc.name, got)
		}
		before := u.At(time.Now())
		if now := u.Now(); now < before {
			t.Fatalf("%s: Now %d before %d", tc.name, now, before)
		}
	}
	for _, id := range []uint8{1, 2, 4, 5, 7, 8, 10, 255} {
		if _, err := domain.TickUnitFromID(id); !errors.Is(err, domain.ErrUnknownTickUnit) {
			t.Fatalf("id %d: %v", id, err)
		}
	}
	if d := domain.Secs.ToDuration(1 << 62); d != time.Duration(1<<63-1) {
		t.Fatalf("huge timeout does not saturate: %v", d)
	}
	if domain.Nanos.FromDuration(-time.Second) != 0 {
		t.Fatal("negative duration")
	}
}

func TestVersion(t *testing.T) {
	v := domain.NewVersion(1, 2, 3)
	if uint64(v) != 1<<48|2<<32|3 || v.String() != "1.2.3" || v.Major() != 1 || v.Minor() != 2 || v.Patch() != 3 {
		t.Fatalf("%d %s", uint64(v), v)
	}
	if domain.CurrentVersion.String() != "1.0.0" || uint64(domain.CurrentVersion) != 281474976710656 {
		t.Fatalf("current %s", domain.CurrentVersion)
	}
	for _, tc := range []struct {
		w    domain.Version
		want bool
	}{
		{domain.NewVersion(1, 0, 0), true},
		{domain.NewVersion(0, 9, 9), true},
		{domain.NewVersion(1, 0, 1), false},
		{domain.NewVersion(1, 1, 0), false},
		{domain.NewVersion(2, 0, 0), false},
	} {
		if got := domain.CurrentVersion.CanRead(tc.w); got != tc.want {
			t.Fatalf("CanRead(%s) = %v", tc.w, got)
		}
	}
}
