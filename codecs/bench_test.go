package codecs_test

import (
	"strings"
	"testing"

	"github.com/kekbit-go/kekbit/codecs"
)

// benchEncode encodes v into a buffer of the room a 4 KiB record gets.
func benchEncode[T any](b *testing.B, enc codecs.Encoder[T], v T) {
	dst := make([]byte, 4096)
	n, err := enc.Encode(dst, v)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(n))
	b.ReportAllocs()
	for b.Loop() {
		enc.Encode(dst, v)
	}
}

func benchDecode[T any](b *testing.B, f interface {
	codecs.Encoder[T]
	codecs.Decoder[T]
}, v T) {
	dst := make([]byte, 4096)
	n, err := f.Encode(dst, v)
	if err != nil {
		b.Fatal(err)
	}
	payload := dst[:n]
	b.SetBytes(int64(n))
	b.ReportAllocs()
	for b.Loop() {
		f.Decode(payload)
	}
}

var benchTrade = trade{ID: 123456, Symbol: "KEKBIT", Price: 1234.5, Tags: []string{"buy", "limit", "day"}}

// The same 64-ish bytes for Raw and Text as the JSON text of benchTrade.
var benchText = strings.Repeat("kekbit ", 10)

func BenchmarkEncode(b *testing.B) {
	b.Run("Raw", func(b *testing.B) { benchEncode(b, codecs.Raw{}, []byte(benchText)) })
	b.Run("Text", func(b *testing.B) { benchEncode(b, codecs.Text{}, benchText) })
	// By value, the common use: one allocation, the value's copy in the
	// interface encoding/json takes. By pointer: none.
	b.Run("JSON/value", func(b *testing.B) { benchEncode(b, codecs.JSON[trade]{}, benchTrade) })
	b.Run("JSON/pointer", func(b *testing.B) { benchEncode(b, codecs.JSON[*trade]{}, &benchTrade) })
}

func BenchmarkDecode(b *testing.B) {
	b.Run("Raw", func(b *testing.B) { benchDecode(b, codecs.Raw{}, []byte(benchText)) })
	b.Run("Text", func(b *testing.B) { benchDecode(b, codecs.Text{}, benchText) })
	b.Run("JSON", func(b *testing.B) { benchDecode(b, codecs.JSON[trade]{}, benchTrade) })
}
