package protocodec_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/kekbit-go/kekbit/codecs/protocodec"
)

// benchEncode encodes m into a buffer of the room a 4 KiB record gets.
func benchEncode[T proto.Message](b *testing.B, p protocodec.Proto[T], m T) {
	dst := make([]byte, 4096)
	n, err := p.Encode(dst, m)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(n))
	b.ReportAllocs()
	for b.Loop() {
		p.Encode(dst, m)
	}
}

func benchDecode[T proto.Message](b *testing.B, p protocodec.Proto[T], m T) {
	payload, err := proto.Marshal(m)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		p.Decode(payload)
	}
}

var (
	benchTimestamp = timestamppb.New(time.Unix(1700000000, 123456789))
	benchStruct, _ = structpb.NewStruct(map[string]any{
		"id": 123456, "symbol": "KEKBIT", "price": 1234.5, "tags": []any{"buy", "limit", "day"},
	})
)

// The Proto benchmarks of BenchmarkEncode in package codecs: a plain
// message (no allocation), and a Struct, whose map fields make protobuf
// allocate.
func BenchmarkEncode(b *testing.B) {
	b.Run("Proto/Timestamp", func(b *testing.B) { benchEncode(b, protocodec.Proto[*timestamppb.Timestamp]{}, benchTimestamp) })
	b.Run("Proto/Struct", func(b *testing.B) { benchEncode(b, protocodec.Proto[*structpb.Struct]{}, benchStruct) })
	b.Run("Proto/Struct/deterministic", func(b *testing.B) {
		benchEncode(b, protocodec.Proto[*structpb.Struct]{Deterministic: true}, benchStruct)
	})
}

func BenchmarkDecode(b *testing.B) {
	b.Run("Proto/Timestamp", func(b *testing.B) { benchDecode(b, protocodec.Proto[*timestamppb.Timestamp]{}, benchTimestamp) })
	b.Run("Proto/Struct", func(b *testing.B) { benchDecode(b, protocodec.Proto[*structpb.Struct]{}, benchStruct) })
}
