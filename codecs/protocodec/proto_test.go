package protocodec_test

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/codecs/protocodec"
	"github.com/kekbit-go/kekbit/domain"
)

func TestFormat(t *testing.T) {
	var f protocodec.Proto[*timestamppb.Timestamp]
	if f.ID() != 5 || f.ID() != codecs.ProtoID || f.MediaType() != "application/x-protobuf" {
		t.Fatal(f.ID(), f.MediaType())
	}
	var _ codecs.Encoder[*timestamppb.Timestamp] = f
	var _ codecs.Decoder[*timestamppb.Timestamp] = f
	if _, ok := any(f).(codecs.Verbatim); ok {
		t.Fatal("Proto is not Verbatim")
	}
}

// protoRoundTrip encodes m into a buffer with room to spare, into one of
// exactly its size and into one a byte short, and decodes it back.
func protoRoundTrip[T proto.Message](t *testing.T, p protocodec.Proto[T], m T) {
	t.Helper()
	want, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	p.Deterministic = true
	dst := bytes.Repeat([]byte{0xEE}, len(want)+16)
	n, err := p.Encode(dst, m)
	if err != nil || !bytes.Equal(dst[:n], want) {
		t.Fatalf("Encode(%v) = %x, %v; want %x", m, dst[:n], err, want)
	}
	if rest := dst[n:]; !bytes.Equal(rest, bytes.Repeat([]byte{0xEE}, len(rest))) {
		t.Fatalf("Encode(%v) wrote past its encoding: %x", m, rest)
	}
	exact := make([]byte, len(want))
	if n, err := p.Encode(exact, m); n != len(want) || err != nil || !bytes.Equal(exact, want) {
		t.Fatalf("Encode(%v) into exactly %d bytes = %d, %v", m, len(want), n, err)
	}
	if len(want) > 0 {
		short := make([]byte, len(want)-1)
		if n, err := p.Encode(short, m); n != 0 || !errors.Is(err, codecs.ErrShortBuffer) {
			t.Fatalf("Encode(%v) into %d bytes = %d, %v; want ErrShortBuffer", m, len(short), n, err)
		}
	}
	got, err := p.Decode(dst[:n])
	if err != nil || !proto.Equal(got, m) {
		t.Fatalf("Decode(%x) = %v, %v; want %v", dst[:n], got, err, m)
	}
}

func TestRoundTrip(t *testing.T) {
	st, err := structpb.NewStruct(map[string]any{
		"item": "tea", "price": 2.5, "tags": []any{"hot", true, nil}, "nested": map[string]any{"n": -1.0},
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"timestamp", func(t *testing.T) {
			protoRoundTrip(t, protocodec.Proto[*timestamppb.Timestamp]{}, timestamppb.New(time.Unix(1700000000, 123456789)))
		}},
		{"duration", func(t *testing.T) {
			protoRoundTrip(t, protocodec.Proto[*durationpb.Duration]{}, durationpb.New(-90*time.Minute))
		}},
		{"string", func(t *testing.T) {
			protoRoundTrip(t, protocodec.Proto[*wrapperspb.StringValue]{}, wrapperspb.String("héé ✓"))
		}},
		{"bytes", func(t *testing.T) {
			protoRoundTrip(t, protocodec.Proto[*wrapperspb.BytesValue]{}, wrapperspb.Bytes([]byte{0, 1, 0xff}))
		}},
		{"int64", func(t *testing.T) {
			protoRoundTrip(t, protocodec.Proto[*wrapperspb.Int64Value]{}, wrapperspb.Int64(-1))
		}},
		{"struct", func(t *testing.T) { protoRoundTrip(t, protocodec.Proto[*structpb.Struct]{}, st) }},
		{"empty message", func(t *testing.T) {
			protoRoundTrip(t, protocodec.Proto[*wrapperspb.Int64Value]{}, wrapperspb.Int64(0))
		}},
		{"interface type with New", func(t *testing.T) {
			protoRoundTrip(t, protocodec.Proto[proto.Message]{New: func() proto.Message { return new(structpb.Struct) }}, proto.Message(st))
		}},
		{"dynamic message with New", func(t *testing.T) {
			mt := dynamicpb.NewMessageType((*timestamppb.Timestamp)(nil).ProtoReflect().Descriptor())
			m := dynamicpb.NewMessage(mt.Descriptor())
			m.Set(mt.Descriptor().Fields().ByName("seconds"), protoreflect.ValueOfInt64(42))
			protoRoundTrip(t, protocodec.Proto[*dynamicpb.Message]{New: func() *dynamicpb.Message { return dynamicpb.NewMessage(mt.Descriptor()) }}, m)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, c.run)
	}
}

// A message with only default values encodes to nothing, which a writer
// refuses: the format cannot tell it from a heartbeat.
func TestEmptyMessage(t *testing.T) {
	n, err := protocodec.Proto[*wrapperspb.Int64Value]{}.Encode(make([]byte, 8), &wrapperspb.Int64Value{})
	if n != 0 || err != nil {
		t.Fatal(n, err)
	}
}

func TestEncodeErrors(t *testing.T) {
	dst := make([]byte, 64)
	cases := []struct {
		name  string
		err   error
		check func(error) bool
	}{
		{"nil pointer",
			first(protocodec.Proto[*timestamppb.Timestamp]{}.Encode(dst, nil)),
			is(protocodec.ErrNilMessage)},
		{"nil interface",
			first(protocodec.Proto[proto.Message]{}.Encode(dst, nil)),
			is(protocodec.ErrNilMessage)},
		{"nil dynamic message",
			first(protocodec.Proto[*dynamicpb.Message]{}.Encode(dst, nil)),
			is(protocodec.ErrNilMessage)},
		{"too large",
			first(protocodec.Proto[*wrapperspb.StringValue]{}.Encode(make([]byte, 4), wrapperspb.String("abcdef"))),
			is(codecs.ErrShortBuffer)},
		{"invalid UTF-8 in a string field",
			first(protocodec.Proto[*wrapperspb.StringValue]{}.Encode(dst, wrapperspb.String("ab\xff"))),
			is(proto.Error)},
		{"invalid UTF-8 deep in a struct",
			first(protocodec.Proto[*structpb.Struct]{}.Encode(dst, &structpb.Struct{Fields: map[string]*structpb.Value{"k": structpb.NewStringValue("\xff")}})),
			is(proto.Error)},
	}
	for _, c := range cases {
		if !c.check(c.err) {
			t.Errorf("%s: %v", c.name, c.err)
		}
		if c.name != "too large" && errors.Is(c.err, codecs.ErrShortBuffer) {
			t.Errorf("%s: %v is not ErrShortBuffer", c.name, c.err)
		}
	}
	_, err := protocodec.Proto[*wrapperspb.StringValue]{}.Encode(make([]byte, 4), wrapperspb.String("abcdef"))
	if want := "codecs: value does not fit the room given: google.protobuf.StringValue of 8 bytes, room for 4"; err.Error() != want {
		t.Errorf("too large: %q, want %q", err, want)
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		name    string
		payload []byte
	}{
		{"truncated tag", []byte{0xff}},
		{"tag without value", []byte{0x08}},
		{"length past the end", []byte{0x0a, 0x05, 'a'}},
		{"field number 0", []byte{0x00, 0x01}},
		{"end of a group never started", []byte{0x0c}},
		{"invalid UTF-8 in a string field", []byte{0x0a, 0x02, 'a', 0xff}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := protocodec.Proto[*wrapperspb.StringValue]{}.Decode(c.payload)
			if !errors.Is(err, proto.Error) || m != nil {
				t.Fatalf("Decode(%x) = %v, %v; want a proto.Error and no message", c.payload, m, err)
			}
		})
	}
	// No message to decode into.
	for name, decode := range map[string]func() error{
		"interface type": func() error { _, err := protocodec.Proto[proto.Message]{}.Decode(nil); return err },
		"dynamic type":   func() error { _, err := protocodec.Proto[*dynamicpb.Message]{}.Decode(nil); return err },
	} {
		if err := decode(); !errors.Is(err, protocodec.ErrNoMessageType) {
			t.Errorf("%s: %v, want ErrNoMessageType", name, err)
		}
	}
	_, err := protocodec.Proto[*structpb.Struct]{New: func() *structpb.Struct { return nil }}.Decode(nil)
	if !errors.Is(err, protocodec.ErrNilMessage) {
		t.Errorf("New returning nil: %v, want ErrNilMessage", err)
	}
}

// Each Decode makes a new message, which owns its bytes.
func TestDecodeDoesNotKeepPayload(t *testing.T) {
	var p protocodec.Proto[*structpb.Struct]
	st, _ := structpb.NewStruct(map[string]any{"key": "value"})
	payload, _ := proto.Marshal(st)
	// And a field Struct does not know, which protobuf keeps as unknown.
	payload = append(payload, 0x7a, 0x03, 'u', 'n', 'k')
	a, err := p.Decode(payload)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := p.Decode(payload)
	if a == b {
		t.Fatal("two Decodes returned the same message")
	}
	for i := range payload {
		payload[i] = 0
	}
	if a.Fields["key"].GetStringValue() != "value" || !bytes.Equal(a.ProtoReflect().GetUnknown(), []byte{0x7a, 0x03, 'u', 'n', 'k'}) {
		t.Fatalf("the message changed with the payload: %v %x", a, a.ProtoReflect().GetUnknown())
	}
}

// Decoding by name, the way a tool that reads any channel would.
func TestDecodeByRegistry(t *testing.T) {
	mt, err := protoregistry.GlobalTypes.FindMessageByName("google.protobuf.Duration")
	if err != nil {
		t.Fatal(err)
	}
	p := protocodec.Proto[proto.Message]{New: func() proto.Message { return mt.New().Interface() }}
	payload, _ := proto.Marshal(durationpb.New(time.Second))
	m, err := p.Decode(payload)
	if d, ok := m.(*durationpb.Duration); err != nil || !ok || d.AsDuration() != time.Second {
		t.Fatal(m, err)
	}
}

func TestDeterministic(t *testing.T) {
	fields := map[string]any{}
	for _, k := range strings.Fields("a b c d e f g h i j k l m n o p") {
		fields[k] = k
	}
	st, _ := structpb.NewStruct(fields)
	p := protocodec.Proto[*structpb.Struct]{Deterministic: true}
	want := make([]byte, 256)
	n, err := p.Encode(want, st)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		again := make([]byte, 256)
		if m, err := p.Encode(again, st); err != nil || !bytes.Equal(again[:m], want[:n]) {
			t.Fatalf("deterministic encodings differ: %x, %x (%v)", want[:n], again[:m], err)
		}
	}
}

// Encode allocates nothing of its own: no buffer, no copy. What remains is
// protobuf's: nothing for plain messages, a few allocations per map field
// (its map iteration, in proto.Size and again in the marshal; sorted keys
// when deterministic).
func TestEncodeAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	dst := make([]byte, 256)
	ts := timestamppb.New(time.Unix(1700000000, 5))
	sv := wrapperspb.String("tea")
	st, _ := structpb.NewStruct(map[string]any{"item": "tea", "price": 2.5, "tags": []any{"hot", true}})
	cases := []struct {
		name     string
		m        proto.Message
		opts     proto.MarshalOptions
		encode   func()
		wantZero bool
	}{
		{"Timestamp", ts, proto.MarshalOptions{}, func() { protocodec.Proto[*timestamppb.Timestamp]{}.Encode(dst, ts) }, true},
		{"StringValue", sv, proto.MarshalOptions{}, func() { protocodec.Proto[*wrapperspb.StringValue]{}.Encode(dst, sv) }, true},
		{"Struct", st, proto.MarshalOptions{}, func() { protocodec.Proto[*structpb.Struct]{}.Encode(dst, st) }, false},
		{"Struct/deterministic", st, proto.MarshalOptions{Deterministic: true}, func() { protocodec.Proto[*structpb.Struct]{Deterministic: true}.Encode(dst, st) }, false},
	}
	for _, c := range cases {
		own := testing.AllocsPerRun(100, func() {
			c.opts.Size(c.m)
			c.opts.MarshalAppend(dst[:0:len(dst)], c.m)
		})
		c.encode()
		got := testing.AllocsPerRun(100, c.encode)
		if got != own || c.wantZero && got != 0 {
			t.Errorf("Encode %s: %v allocations; protobuf's Size and MarshalAppend make %v", c.name, got, own)
		}
	}
}

func TestConcurrent(t *testing.T) {
	var p protocodec.Proto[*wrapperspb.Int64Value]
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			dst := make([]byte, 16)
			for i := range 500 {
				v := int64(g*1000 + i + 1)
				n, err := p.Encode(dst, wrapperspb.Int64(v))
				if err != nil {
					t.Error(err)
					return
				}
				m, err := p.Decode(dst[:n])
				if err != nil || m.GetValue() != v {
					t.Errorf("%x decodes to %v, %v; want %d", dst[:n], m, err, v)
					return
				}
			}
		})
	}
	wg.Wait()
}

// Through a writer: too large is ErrRecordTooLarge and ErrShortBuffer;
// a nil message and an invalid one are ErrEncoding; an empty one is
// ErrEmptyPayload. None publishes anything.
func TestWriter(t *testing.T) {
	h, err := domain.NewHeader(domain.Hints{ChannelID: 1, MaxMsgLen: 32, Timeout: 10, TickUnit: domain.Secs})
	if err != nil {
		t.Fatal(err)
	}
	vol := memory.NewVolume()
	var p protocodec.Proto[*wrapperspb.StringValue]
	w, err := domain.Create(vol, h, p)
	if err != nil {
		t.Fatal(err)
	}
	before := w.WriteOffset()
	if _, err := w.Write(wrapperspb.String(strings.Repeat("x", 64))); !errors.Is(err, domain.ErrRecordTooLarge) || !errors.Is(err, codecs.ErrShortBuffer) {
		t.Errorf("too large: %v", err)
	}
	if _, err := w.Write(nil); !errors.Is(err, domain.ErrEncoding) || !errors.Is(err, protocodec.ErrNilMessage) {
		t.Errorf("nil: %v", err)
	}
	if _, err := w.Write(wrapperspb.String("\xff")); !errors.Is(err, domain.ErrEncoding) || !errors.Is(err, proto.Error) {
		t.Errorf("invalid: %v", err)
	}
	if _, err := w.Write(wrapperspb.String("")); !errors.Is(err, domain.ErrEmptyPayload) {
		t.Errorf("empty: %v", err)
	}
	if w.WriteOffset() != before {
		t.Errorf("write offset %d after refused writes, want %d", w.WriteOffset(), before)
	}
	if _, err := w.Write(wrapperspb.String("ok")); err != nil {
		t.Fatal(err)
	}
	w.Close()
	r, err := domain.Open(vol, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got []string
	for rec := range r.Records() {
		m, err := p.Decode(rec.Payload)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m.GetValue())
	}
	if len(got) != 1 || got[0] != "ok" {
		t.Errorf("records %q, want only ok", got)
	}
}

func first(_ int, err error) error { return err }

func is(target error) func(error) bool {
	return func(err error) bool { return errors.Is(err, target) }
}
