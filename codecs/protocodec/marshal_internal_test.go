package protocodec

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/kekbit-go/kekbit/codecs"
)

// marshalInto writes into dst's memory: the encoding it returns is dst's
// first bytes, not a copy, and its capacity is dst's.
func TestMarshalIntoAliasesDst(t *testing.T) {
	st, _ := structpb.NewStruct(map[string]any{"item": "tea", "tags": []any{"hot", 1.5}})
	for _, m := range []proto.Message{timestamppb.New(time.Unix(1700000000, 1)), st} {
		want, _ := proto.MarshalOptions{Deterministic: true}.Marshal(m)
		for _, room := range []int{len(want), len(want) + 100} {
			backing := make([]byte, room+8)
			dst := backing[:room]
			out, err := marshalInto(proto.MarshalOptions{Deterministic: true}, dst, m)
			if err != nil {
				t.Fatal(err)
			}
			if &out[0] != &dst[0] || cap(out) != room {
				t.Fatalf("%v into %d bytes: the encoding does not alias dst (cap %d)", m, room, cap(out))
			}
			if !bytes.Equal(out, want) {
				t.Fatalf("%v: %x, want %x", m, out, want)
			}
			if !bytes.Equal(backing[room:], make([]byte, 8)) {
				t.Fatalf("%v: written past len(dst)", m)
			}
		}
	}
}

// A message larger than dst (the size Encode checked went stale) is
// ErrShortBuffer: the encoding protobuf had to allocate is not used, and
// nothing is written past len(dst).
func TestMarshalIntoTooSmall(t *testing.T) {
	m := timestamppb.New(time.Unix(1700000000, 1))
	backing := make([]byte, 12)
	dst := backing[:4]
	if _, err := marshalInto(proto.MarshalOptions{}, dst, m); !errors.Is(err, codecs.ErrShortBuffer) {
		t.Fatalf("%v, want ErrShortBuffer", err)
	}
	if !bytes.Equal(backing, make([]byte, 12)) {
		t.Fatalf("dst written: %x", backing)
	}
}
