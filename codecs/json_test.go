package codecs_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
)

type trade struct {
	ID     int64    `json:"id"`
	Symbol string   `json:"symbol"`
	Price  float64  `json:"price"`
	Tags   []string `json:"tags,omitempty"`
	Note   []byte   `json:"note,omitempty"`
}

// jsonRoundTrip encodes v with JSON[T] into a buffer of exactly the right
// size and into one a byte short, and decodes it back.
func jsonRoundTrip[T any](t *testing.T, v T) {
	t.Helper()
	var f codecs.JSON[T]
	want, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	// Room to spare, filled with a mark: Encode writes the text and nothing
	// after it, not even json.Encoder's newline.
	dst := bytes.Repeat([]byte{0xEE}, len(want)+16)
	n, err := f.Encode(dst, v)
	if err != nil || !bytes.Equal(dst[:n], want) {
		t.Fatalf("Encode(%#v) = %q, %v; want %q", v, dst[:n], err, want)
	}
	if rest := dst[n:]; !bytes.Equal(rest, bytes.Repeat([]byte{0xEE}, len(rest))) {
		t.Fatalf("Encode(%#v) wrote past its text: %q", v, rest)
	}
	exact := make([]byte, len(want))
	if n, err := f.Encode(exact, v); n != len(want) || err != nil || !bytes.Equal(exact, want) {
		t.Fatalf("Encode(%#v) into exactly %d bytes = %d, %v", v, len(want), n, err)
	}
	short := make([]byte, len(want)-1)
	if n, err := f.Encode(short, v); n != 0 || !errors.Is(err, codecs.ErrShortBuffer) {
		t.Fatalf("Encode(%#v) into %d bytes = %d, %v; want ErrShortBuffer", v, len(short), n, err)
	}
	got, err := f.Decode(dst[:n])
	if err != nil || !reflect.DeepEqual(got, v) {
		t.Fatalf("Decode(%q) = %#v, %v; want %#v", dst[:n], got, err, v)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	tr := trade{ID: 7, Symbol: "KEK", Price: 12.5, Tags: []string{"a", "<b>"}, Note: []byte{0, 1, 2}}
	cases := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"struct", func(t *testing.T) { jsonRoundTrip(t, tr) }},
		{"pointer", func(t *testing.T) { jsonRoundTrip(t, &tr) }},
		{"nil pointer", func(t *testing.T) { jsonRoundTrip[*trade](t, nil) }},
		{"map", func(t *testing.T) { jsonRoundTrip(t, map[string]int{"b": 2, "a": 1}) }},
		{"slice", func(t *testing.T) { jsonRoundTrip(t, []float64{1, -0.5, 1e21}) }},
		{"string", func(t *testing.T) { jsonRoundTrip(t, "héé \"quoted\" <html> & \n\t✓") }},
		{"number", func(t *testing.T) { jsonRoundTrip(t, int64(math.MinInt64)) }},
		{"bool", func(t *testing.T) { jsonRoundTrip(t, true) }},
		{"bytes", func(t *testing.T) { jsonRoundTrip(t, []byte("base64 on the wire")) }},
		{"raw message", func(t *testing.T) { jsonRoundTrip(t, json.RawMessage(`{"x":[1,2,3]}`)) }},
		{"any", func(t *testing.T) { jsonRoundTrip[any](t, map[string]any{"k": []any{"v", 1.5, nil, false}}) }},
	}
	for _, c := range cases {
		t.Run(c.name, c.run)
	}
}

// failingMarshaler cannot be encoded.
type failingMarshaler struct{}

var errNoJSON = errors.New("no JSON for this")

func (failingMarshaler) MarshalJSON() ([]byte, error) { return nil, errNoJSON }

func TestJSONEncodeErrors(t *testing.T) {
	dst := make([]byte, 64)
	if _, err := (codecs.JSON[float64]{}).Encode(dst, math.NaN()); !isAs[*json.UnsupportedValueError](err) {
		t.Errorf("NaN: %v, want a wrapped *json.UnsupportedValueError", err)
	}
	if _, err := (codecs.JSON[chan int]{}).Encode(dst, make(chan int)); !isAs[*json.UnsupportedTypeError](err) {
		t.Errorf("chan: %v, want a wrapped *json.UnsupportedTypeError", err)
	}
	if _, err := (codecs.JSON[failingMarshaler]{}).Encode(dst, failingMarshaler{}); !errors.Is(err, errNoJSON) || !isAs[*json.MarshalerError](err) {
		t.Errorf("MarshalJSON error: %v, want it wrapped", err)
	}
	for _, err := range []error{
		first((codecs.JSON[float64]{}).Encode(dst, math.Inf(1))),
		first((codecs.JSON[failingMarshaler]{}).Encode(dst, failingMarshaler{})),
	} {
		if errors.Is(err, codecs.ErrShortBuffer) {
			t.Errorf("%v: an encoding error is not ErrShortBuffer", err)
		}
	}
	// A value too large: ErrShortBuffer, with the sizes in the message.
	_, err := (codecs.JSON[string]{}).Encode(make([]byte, 4), "abcdef")
	if !errors.Is(err, codecs.ErrShortBuffer) || err.Error() != "codecs: value does not fit the room given: JSON text of 8 bytes, room for 4" {
		t.Errorf("too large: %v", err)
	}
	// And the encoder is still fine afterwards (the pooled json.Encoder
	// keeps no error).
	if n, err := (codecs.JSON[string]{}).Encode(dst, "ok"); n != 4 || err != nil || string(dst[:n]) != `"ok"` {
		t.Errorf("after errors: %d, %v", n, err)
	}
}

func TestJSONDecodeErrors(t *testing.T) {
	cases := []struct {
		name    string
		payload string
		check   func(error) bool
	}{
		{"empty", ``, isAs[*json.SyntaxError]},
		{"cut short", `{"id":1`, isAs[*json.SyntaxError]},
		{"not JSON", `nul`, isAs[*json.SyntaxError]},
		{"trailing data", `{"id":1} {"id":2}`, isAs[*json.SyntaxError]},
		{"bad UTF-8 outside a string", "\xff", isAs[*json.SyntaxError]},
		{"wrong type", `{"id":"seven"}`, isAs[*json.UnmarshalTypeError]},
		{"wrong shape", `[1,2]`, isAs[*json.UnmarshalTypeError]},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := (codecs.JSON[trade]{}).Decode([]byte(c.payload))
			if err == nil || !c.check(err) {
				t.Fatalf("Decode(%q) = %#v, %v", c.payload, v, err)
			}
			if !reflect.DeepEqual(v, trade{}) {
				t.Fatalf("Decode(%q) returned %#v with its error, want the zero value", c.payload, v)
			}
		})
	}
}

func TestJSONDecodeDoesNotKeepPayload(t *testing.T) {
	type keeps struct {
		S string          `json:"s"`
		B []byte          `json:"b"`
		R json.RawMessage `json:"r"`
	}
	payload := []byte(`{"s":"text","b":"AQID","r":{"x":1}}`)
	v, err := (codecs.JSON[keeps]{}).Decode(payload)
	if err != nil {
		t.Fatal(err)
	}
	for i := range payload {
		payload[i] = 'X'
	}
	if v.S != "text" || !bytes.Equal(v.B, []byte{1, 2, 3}) || string(v.R) != `{"x":1}` {
		t.Fatalf("the decoded value changed with the payload: %#v", v)
	}
}

// Many goroutines share the pooled encoders; each must see its own text.
func TestJSONConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			var f codecs.JSON[trade]
			dst := make([]byte, 128)
			for i := range 500 {
				v := trade{ID: int64(g*1000 + i), Symbol: "S"}
				n, err := f.Encode(dst, v)
				if err != nil {
					t.Error(err)
					return
				}
				got, err := f.Decode(dst[:n])
				if err != nil || got.ID != v.ID {
					t.Errorf("goroutine %d: %q decodes to %#v, %v", g, dst[:n], got, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// encoding/json allocates nothing to encode a pointer to a plain struct,
// and neither does Encode around it; a struct passed by value costs one
// allocation, its copy in the interface json.Encoder.Encode takes.
func TestJSONEncodeAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	tr := &trade{ID: 7, Symbol: "KEK", Price: 12.5, Tags: []string{"a", "b"}}
	dst := make([]byte, 256)
	var f codecs.JSON[*trade]
	f.Encode(dst, tr) // warm the pool and encoding/json's type cache
	if a := testing.AllocsPerRun(100, func() { f.Encode(dst, tr) }); a != 0 {
		t.Errorf("JSON[*trade].Encode: %v allocations, want 0", a)
	}
	var fv codecs.JSON[trade]
	fv.Encode(dst, *tr)
	if a := testing.AllocsPerRun(100, func() { fv.Encode(dst, *tr) }); a != 1 {
		t.Errorf("JSON[trade].Encode: %v allocations, want 1", a)
	}
}

func isAs[E error](err error) bool {
	var e E
	return errors.As(err, &e)
}

func first(_ int, err error) error { return err }

// Through a writer: a value too large is ErrRecordTooLarge and still
// matches ErrShortBuffer; an encoding error is ErrEncoding and still
// carries encoding/json's error. Neither publishes anything.
func TestJSONWriterErrors(t *testing.T) {
	h, err := domain.NewHeader(domain.Hints{ChannelID: 1, MaxMsgLen: 32, Timeout: 10, TickUnit: domain.Secs})
	if err != nil {
		t.Fatal(err)
	}
	vol := memory.NewVolume()
	w, err := domain.Create(vol, h, codecs.JSON[any]{})
	if err != nil {
		t.Fatal(err)
	}
	before := w.WriteOffset()
	_, err = w.Write(strings.Repeat("x", 64))
	if !errors.Is(err, domain.ErrRecordTooLarge) || !errors.Is(err, codecs.ErrShortBuffer) {
		t.Errorf("too large: %v", err)
	}
	_, err = w.Write(math.NaN())
	if !errors.Is(err, domain.ErrEncoding) || !isAs[*json.UnsupportedValueError](err) || errors.Is(err, codecs.ErrShortBuffer) {
		t.Errorf("NaN: %v", err)
	}
	if w.WriteOffset() != before {
		t.Errorf("write offset %d after refused writes, want %d", w.WriteOffset(), before)
	}
	if _, err := w.Write([]int{1, 2}); err != nil {
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
		got = append(got, string(rec.Payload))
	}
	if !reflect.DeepEqual(got, []string{"[1,2]"}) {
		t.Errorf("records %q, want only [1,2]", got)
	}
}
