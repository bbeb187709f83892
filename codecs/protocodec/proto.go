// Package protocodec is the protocol buffers format of kekbit channels,
// over google.golang.org/protobuf: [Proto], id 5 ([codecs.ProtoID]), media
// type "application/x-protobuf".
//
// It is a package of its own so that a program that imports only package
// codecs does not compile, or link, the protobuf runtime.
package protocodec

import (
	"errors"
	"fmt"
	"reflect"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/kekbit-go/kekbit/codecs"
)

// Errors of the format; Encode and Decode return them wrapped with
// details.
var (
	// ErrNilMessage is returned by Encode for a nil message (a nil
	// interface or a nil pointer), and by Decode when New returns one.
	ErrNilMessage = errors.New("protocodec: nil message")
	// ErrNoMessageType is returned by Decode when it cannot tell which
	// message to make: New is nil and T's zero value names no message
	// type (T is an interface such as proto.Message, or *dynamicpb.Message).
	ErrNoMessageType = errors.New("protocodec: no message type to decode into")
)

// Proto is the protocol buffers format, id 5 ([codecs.ProtoID]), media type
// "application/x-protobuf": the payload is the message in the binary wire
// format. It is safe for concurrent use.
//
// For a generated message type its zero value is all it takes:
// Proto[*orderpb.Order]{} encodes *orderpb.Order values and decodes each
// payload into a new orderpb.Order. Set New when T does not say which
// message to make.
//
// A message whose every field has its default value encodes to zero bytes,
// which a channel cannot tell from a heartbeat: a writer refuses it
// (domain.ErrEmptyPayload).
type Proto[T proto.Message] struct {
	// New makes the message Decode fills. Nil means a new message of T's
	// type, which works for every generated type; set it when T is an
	// interface such as proto.Message (for example to look the type up in
	// protoregistry.GlobalTypes) or *dynamicpb.Message.
	New func() T
	// Deterministic sorts map entries by key, so that equal messages encode
	// to the same bytes within one binary (see
	// proto.MarshalOptions.Deterministic). Off, map order varies.
	Deterministic bool
}

// ID returns 5.
func (Proto[T]) ID() uint64 { return codecs.ProtoID }

// MediaType returns "application/x-protobuf".
func (Proto[T]) MediaType() string { return "application/x-protobuf" }

// Encode writes the wire encoding of m into dst, in place: it sizes m
// first and marshals into dst's own memory, with no buffer in between. It
// returns codecs.ErrShortBuffer (wrapped, with the sizes) if m needs more
// than len(dst) bytes, ErrNilMessage for a nil m, and protobuf's error,
// wrapped, if m cannot be encoded (a string field that is not valid UTF-8,
// a missing required field): errors.Is(err, proto.Error) matches it.
func (p Proto[T]) Encode(dst []byte, m T) (int, error) {
	if isNil(m) {
		return 0, fmt.Errorf("%w: Encode of a nil %s", ErrNilMessage, reflect.TypeFor[T]())
	}
	opts := proto.MarshalOptions{Deterministic: p.Deterministic}
	if n := opts.Size(m); n > len(dst) {
		return 0, fmt.Errorf("%w: %s of %d bytes, room for %d", codecs.ErrShortBuffer, name(m), n, len(dst))
	}
	out, err := marshalInto(opts, dst, m)
	if err != nil {
		return 0, fmt.Errorf("protocodec: encoding %s: %w", name(m), err)
	}
	return len(out), nil
}

// marshalInto marshals m into dst's memory and returns the encoding, which
// aliases dst. MarshalAppend allocates only if the encoding outgrows dst's
// capacity, here capped at len(dst): then m is larger than its size said
// (another goroutine changing it), and the result is ErrShortBuffer.
func marshalInto(opts proto.MarshalOptions, dst []byte, m proto.Message) ([]byte, error) {
	out, err := opts.MarshalAppend(dst[:0:len(dst)], m)
	if err != nil {
		return nil, err
	}
	if len(out) > len(dst) || len(out) > 0 && &out[0] != &dst[0] {
		return nil, fmt.Errorf("%w: %d bytes, room for %d (changed while encoded?)", codecs.ErrShortBuffer, len(out), len(dst))
	}
	return out, nil
}

// Decode unmarshals the payload into a new message, made by New or, if New
// is nil, of T's type. Errors: protobuf's, wrapped, for a payload that is
// not a valid encoding of the message (errors.Is(err, proto.Error)
// matches); ErrNoMessageType or ErrNilMessage if it has no message to fill.
// It does not keep the payload (protobuf copies what it keeps).
func (p Proto[T]) Decode(payload []byte) (T, error) {
	var zero T
	m, err := p.newMessage()
	if err != nil {
		return zero, err
	}
	if err := proto.Unmarshal(payload, m); err != nil {
		return zero, fmt.Errorf("protocodec: decoding %s: %w", name(m), err)
	}
	return m, nil
}

func (p Proto[T]) newMessage() (T, error) {
	var zero T
	if p.New != nil {
		m := p.New()
		if isNil(m) {
			return zero, fmt.Errorf("%w: New returned a nil %s", ErrNilMessage, reflect.TypeFor[T]())
		}
		return m, nil
	}
	mt := typeOf[T]()
	if mt == nil {
		return zero, fmt.Errorf("%w: %s does not name one, set Proto.New", ErrNoMessageType, reflect.TypeFor[T]())
	}
	m, ok := mt.New().Interface().(T)
	if !ok {
		return zero, fmt.Errorf("%w: %s makes a %T, not a %s; set Proto.New", ErrNoMessageType, mt.Descriptor().FullName(), mt.New().Interface(), reflect.TypeFor[T]())
	}
	return m, nil
}

// typeOf returns the message type T's zero value reflects, or nil if it
// reflects none: T is an interface, or a type whose nil value cannot say
// (a nil *dynamicpb.Message panics when asked).
func typeOf[T proto.Message]() (mt protoreflect.MessageType) {
	if reflect.TypeFor[T]().Kind() == reflect.Interface {
		return nil
	}
	defer func() {
		if recover() != nil {
			mt = nil
		}
	}()
	var zero T
	return zero.ProtoReflect().Type()
}

// isNil reports whether m is a nil interface or a nil pointer. It asks
// reflect, not m.ProtoReflect().IsValid(), which panics for a nil
// *dynamicpb.Message.
func isNil(m proto.Message) bool {
	if m == nil {
		return true
	}
	v := reflect.ValueOf(m)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// name returns the message's full name for an error message.
func name(m proto.Message) protoreflect.FullName {
	return m.ProtoReflect().Descriptor().FullName()
}

var (
	_ codecs.Encoder[proto.Message] = Proto[proto.Message]{}
	_ codecs.Decoder[proto.Message] = Proto[proto.Message]{}
)
