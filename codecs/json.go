package codecs

import (
	"encoding/json"
	"fmt"
	"sync"
)

// JSON is the JSON format over encoding/json, id 4 ([JSONID]), media type
// "application/json": the payload is the value as [json.Marshal] gives it
// (HTML characters escaped, no trailing newline). Its zero value is ready
// to use and it is safe for concurrent use.
//
// encoding/json has no way to append to a caller's buffer: it builds the
// text in a pooled buffer of its own, which Encode then copies once into
// dst. So the whole value is marshaled before Encode knows whether it fits.
type JSON[T any] struct{}

// ID returns 4.
func (JSON[T]) ID() uint64 { return JSONID }

// MediaType returns "application/json".
func (JSON[T]) MediaType() string { return "application/json" }

// Encode writes the JSON text of v into dst. It returns ErrShortBuffer
// (wrapped, with the sizes) if the text is longer than dst, and
// encoding/json's error, wrapped, if v cannot be encoded (a channel, a
// NaN, a failing MarshalJSON): test it with errors.As, for example for a
// *json.UnsupportedValueError.
func (JSON[T]) Encode(dst []byte, v T) (int, error) {
	s := jsonSinks.Get().(*jsonSink)
	s.dst, s.n, s.newline = dst, 0, false
	err := s.enc.Encode(v)
	n := s.n // without the newline json.Encoder ends its output with
	s.dst = nil
	if err != nil {
		// Not put back: an Encoder may keep a write error for good (ours
		// never fails, but a pooled Encoder must be beyond doubt).
		return 0, fmt.Errorf("codecs: encoding JSON: %w", err)
	}
	jsonSinks.Put(s)
	if n > len(dst) {
		return 0, fmt.Errorf("%w: JSON text of %d bytes, room for %d", ErrShortBuffer, n, len(dst))
	}
	return n, nil
}

// Decode unmarshals the payload into a new T with [json.Unmarshal]. Errors
// are encoding/json's, wrapped: a *json.SyntaxError for text that is not
// JSON, a *json.UnmarshalTypeError for JSON that does not fit T. It does
// not keep the payload (encoding/json copies what it keeps).
func (JSON[T]) Decode(payload []byte) (T, error) {
	var v T
	if err := json.Unmarshal(payload, &v); err != nil {
		var zero T
		return zero, fmt.Errorf("codecs: decoding JSON: %w", err)
	}
	return v, nil
}

// jsonSink is the writer a pooled json.Encoder writes into: it copies what
// fits into dst and counts every byte, so Encode learns the full size of a
// text too long for dst. It holds back a newline that ends a write until
// more follows, so the newline that ends the text never reaches dst. It
// never fails, so its Encoder stays usable.
type jsonSink struct {
	dst     []byte
	n       int  // bytes taken so far, including those past len(dst)
	newline bool // the last write ended with a newline, not yet taken
	enc     *json.Encoder
}

func (s *jsonSink) Write(p []byte) (int, error) {
	if s.newline {
		s.newline = false
		if s.n < len(s.dst) {
			s.dst[s.n] = '\n'
		}
		s.n++
	}
	q := p
	if len(q) > 0 && q[len(q)-1] == '\n' {
		q, s.newline = q[:len(q)-1], true
	}
	if s.n < len(s.dst) {
		copy(s.dst[s.n:], q)
	}
	s.n += len(q)
	return len(p), nil
}

// jsonSinks pools sinks with their Encoders: an Encoder and the interface
// holding its writer would otherwise be two allocations per Encode.
var jsonSinks = sync.Pool{New: func() any {
	s := new(jsonSink)
	s.enc = json.NewEncoder(s)
	return s
}}

var (
	_ Encoder[any] = JSON[any]{}
	_ Decoder[any] = JSON[any]{}
)
