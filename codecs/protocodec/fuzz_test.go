package protocodec_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/kekbit-go/kekbit/codecs/protocodec"
)

// FuzzProtoDecode: Decode takes any bytes without panicking, and what it
// accepts encodes again, in place, and decodes to an equal message.
func FuzzProtoDecode(f *testing.F) {
	st, _ := structpb.NewStruct(map[string]any{"k": []any{"v", 1.5, nil, true, map[string]any{"n": "m"}}})
	for _, m := range []proto.Message{st, timestamppb.New(time.Unix(1, 2))} {
		b, _ := proto.Marshal(m)
		f.Add(b)
	}
	for _, b := range [][]byte{{}, {0xff}, {0x08}, {0x0a, 0x05, 'a'}, {0x0c}, {0x0b, 0x0c}, {0x0a, 0x02, 'a', 0xff}} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		protocodec.Proto[*timestamppb.Timestamp]{}.Decode(payload)
		p := protocodec.Proto[*structpb.Struct]{Deterministic: true}
		m, err := p.Decode(payload)
		if err != nil {
			return
		}
		dst := make([]byte, proto.Size(m))
		n, err := p.Encode(dst, m)
		if err != nil || n != len(dst) {
			t.Fatalf("Decode(%x) gave %v, which does not encode into %d bytes: %d, %v", payload, m, len(dst), n, err)
		}
		again, err := p.Decode(dst)
		if err != nil || !proto.Equal(again, m) {
			t.Fatalf("%x -> %v -> %x -> %v, %v", payload, m, dst, again, err)
		}
	})
}
