package codecs

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// ErrShortBuffer is returned by an Encoder whose value does not fit the room
// it was given. The writer turns it into its "record too large" error and
// publishes nothing.
var ErrShortBuffer = errors.New("codecs: value does not fit the room given")

// ErrInvalidText is returned by [Text] for a string or payload that is not
// valid UTF-8.
var ErrInvalidText = errors.New("codecs: text is not valid UTF-8")

// The ids of the built-in formats. They are fixed: a channel's writer and
// readers agree on a format by its id, so an id is never reused or changed.
// Ids 2 and 3 are the Rust crate's; 4 and 5 are this library's, the next
// free ones.
const (
	RawID   = 2 // [Raw], application/octet-stream
	TextID  = 3 // [Text], text/plain
	JSONID  = 4 // [JSON], application/json
	ProtoID = 5 // protocodec.Proto, application/x-protobuf
)

// Format names a data format.
type Format interface {
	// ID is the format's numeric id (see [RawID] and the others).
	ID() uint64
	// MediaType is the format's MIME type, such as "text/plain".
	MediaType() string
}

// Encoder is a Format that encodes values of type T.
type Encoder[T any] interface {
	Format
	// Encode writes v into dst and returns the number of bytes written. It
	// returns ErrShortBuffer (possibly wrapped) if v needs more than len(dst)
	// bytes; dst's contents are then unspecified. It must not keep dst.
	Encode(dst []byte, v T) (int, error)
}

// Decoder is a Format that decodes values of type T.
type Decoder[T any] interface {
	Format
	// Decode turns a payload into a value. The payload is only valid during
	// the call: a Decoder that keeps it must copy it.
	Decode(payload []byte) (T, error)
}

// Verbatim is an optional ability of an Encoder[[]byte]: its encoding of a
// value is the value's bytes, unchanged, so a writer may copy them itself
// without calling Encode.
//
// An encoder whose Verbatim returns true promises that, for every v,
// Encode(dst, v) does exactly what copy(dst, v) does when len(v) <=
// len(dst) (it returns len(v) and a nil error, and has no other effect),
// and returns ErrShortBuffer otherwise. A writer that finds the ability
// may skip Encode altogether, so an encoder that validates, transforms,
// counts or logs must not declare it. Mind embedding: a type that embeds
// [Raw] inherits its Verbatim method, so a wrapper that changes Encode
// must also define Verbatim returning false, or its Encode is never called.
type Verbatim interface {
	// Verbatim reports whether the encoder's output is its input's bytes.
	Verbatim() bool
}

// Raw is the raw-bytes format, id 2 ([RawID]), media type
// "application/octet-stream": the payload is the value, byte for byte. It
// is [Verbatim].
type Raw struct{}

// ID returns 2.
func (Raw) ID() uint64 { return RawID }

// MediaType returns "application/octet-stream".
func (Raw) MediaType() string { return "application/octet-stream" }

// Encode copies v into dst.
func (Raw) Encode(dst []byte, v []byte) (int, error) {
	if len(v) > len(dst) {
		return 0, ErrShortBuffer
	}
	return copy(dst, v), nil
}

// Verbatim returns true: Encode is copy.
func (Raw) Verbatim() bool { return true }

// Decode returns a copy of the payload.
func (Raw) Decode(payload []byte) ([]byte, error) {
	return append([]byte(nil), payload...), nil
}

// Text is the plain-text format, id 3 ([TextID]), media type "text/plain":
// the payload is the string's UTF-8 bytes. It is not [Verbatim]: Encode
// refuses a string that is not valid UTF-8.
type Text struct{}

// ID returns 3.
func (Text) ID() uint64 { return TextID }

// MediaType returns "text/plain".
func (Text) MediaType() string { return "text/plain" }

// Encode copies the bytes of s into dst. It refuses a string that is not
// valid UTF-8 with ErrInvalidText.
func (Text) Encode(dst []byte, s string) (int, error) {
	if len(s) > len(dst) {
		return 0, ErrShortBuffer
	}
	if !utf8.ValidString(s) {
		return 0, invalidText(s)
	}
	return copy(dst, s), nil
}

// Decode returns the payload as a string, or ErrInvalidText if it is not
// valid UTF-8.
func (Text) Decode(payload []byte) (string, error) {
	if !utf8.Valid(payload) {
		return "", invalidText(string(payload))
	}
	return string(payload), nil
}

func invalidText(s string) error {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return fmt.Errorf("%w: bad byte 0x%02x at offset %d", ErrInvalidText, s[i], i)
			}
		}
	}
	return ErrInvalidText
}

var (
	_ Encoder[[]byte] = Raw{}
	_ Decoder[[]byte] = Raw{}
	_ Verbatim        = Raw{}
	_ Encoder[string] = Text{}
	_ Decoder[string] = Text{}
)
