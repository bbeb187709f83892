package crc32c_test

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"testing"

	"github.com/kekbit-go/kekbit/internal/crc32c"
)

// TestAgreesWithHashCRC32: for every length up to 300 and random bytes and
// seeds, Update and UpdateUint64 give what hash/crc32 gives.
func TestAgreesWithHashCRC32(t *testing.T) {
	tab := crc32.MakeTable(crc32.Castagnoli)
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 300)
	for n := range len(buf) {
		for range 20 {
			for i := range buf[:n] {
				buf[i] = byte(rng.Uint32())
			}
			seed := rng.Uint32()
			if got, want := crc32c.Update(seed, buf[:n]), crc32.Update(seed, tab, buf[:n]); got != want {
				t.Fatalf("Update(%#x, %d bytes) = %#x, want %#x", seed, n, got, want)
			}
			v := rng.Uint64()
			var b [8]byte
			binary.LittleEndian.PutUint64(b[:], v)
			if got, want := crc32c.UpdateUint64(seed, v), crc32.Update(seed, tab, b[:]); got != want {
				t.Fatalf("UpdateUint64(%#x, %#x) = %#x, want %#x", seed, v, got, want)
			}
		}
	}
	if crc32c.Update(0, []byte("123456789")) != 0xE3069283 { // the check value of CRC-32C
		t.Fatal("wrong check value")
	}
}

var sink uint32

func BenchmarkUpdate(b *testing.B) {
	tab := crc32.MakeTable(crc32.Castagnoli)
	buf := make([]byte, 88)
	b.Run("crc32c", func(b *testing.B) {
		for range b.N {
			sink = crc32c.Update(crc32c.UpdateUint64(0, 96), buf)
		}
	})
	b.Run("hash/crc32", func(b *testing.B) {
		var lw [8]byte
		for range b.N {
			sink = crc32.Update(crc32.Update(0, tab, lw[:]), tab, buf)
		}
	})
}

// TestRecordAgreesWithHashCRC32: Record, on the SSE4.2 path and the
// generic one, is the CRC32C of the bytes it names, for every word count up
// to 100.
func TestRecordAgreesWithHashCRC32(t *testing.T) {
	tab := crc32.MakeTable(crc32.Castagnoli)
	rng := rand.New(rand.NewPCG(3, 4))
	for k := range 1200 {
		words := make([]uint64, k)
		for i := range words {
			words[i] = rng.Uint64()
		}
		n, hi := rng.Uint64(), rng.Uint32()
		b := binary.LittleEndian.AppendUint64(nil, n)
		b = binary.LittleEndian.AppendUint32(b, hi)
		for _, w := range words {
			b = binary.LittleEndian.AppendUint64(b, w)
		}
		want := crc32.Checksum(b, tab)
		if got := crc32c.Record(n, hi, words); got != want {
			t.Fatalf("Record(%d words) = %#x, want %#x", k, got, want)
		}
		if got := crc32c.RecordSerial(n, hi, words); got != want {
			t.Fatalf("Record one word at a time (%d words) = %#x, want %#x", k, got, want)
		}
		if got := crc32c.RecordGeneric(n, hi, words); got != want {
			t.Fatalf("recordGeneric(%d words) = %#x, want %#x", k, got, want)
		}
	}
}

// BenchmarkRecord: the CRC of a record with the full envelope and a
// payload of 72 bytes (its length word, the CRC word's high half and 11
// words) or 1,000 bytes (127 words), in three streams and one word at a
// time; independent calls (throughput) and each call waiting for the one
// before (latency).
func BenchmarkRecord(b *testing.B) {
	for _, size := range []int{72, 1000} {
		words := make([]uint64, (24+size+7)/8-1)
		for _, f := range []struct {
			name string
			crc  func(uint64, uint32, []uint64) uint32
		}{{"streams", crc32c.Record}, {"serial", crc32c.RecordSerial}} {
			b.Run(fmt.Sprintf("size=%d/%s/throughput", size, f.name), func(b *testing.B) {
				for range b.N {
					sink = f.crc(uint64(size), 0, words)
				}
			})
			b.Run(fmt.Sprintf("size=%d/%s/latency", size, f.name), func(b *testing.B) {
				var c uint32
				for range b.N {
					c = f.crc(uint64(c), 0, words)
				}
				sink = c
			})
		}
	}
}

// TestPayloadIsRecordOfThePaddedPayload: Payload over a payload of every
// length up to 200 is Record over the same record laid out as words.
func TestPayloadIsRecordOfThePaddedPayload(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for k := range 201 {
		for envWords := range 3 {
			p := make([]byte, k)
			for i := range p {
				p[i] = byte(rng.Uint32())
			}
			env := make([]uint64, envWords)
			for i := range env {
				env[i] = rng.Uint64()
			}
			padded := make([]byte, (k+7)/8*8)
			copy(padded, p)
			words := append([]uint64(nil), env...)
			for i := 0; i < len(padded); i += 8 {
				words = append(words, binary.LittleEndian.Uint64(padded[i:]))
			}
			n := rng.Uint64()
			want := crc32c.Record(n, 0, words)
			if got := crc32c.Payload(n, env, p); got != want {
				t.Fatalf("Payload(%d env words, %d bytes) = %#x, want %#x", envWords, k, got, want)
			}
			if got := crc32c.PayloadGeneric(n, env, p); got != want {
				t.Fatalf("payloadGeneric(%d env words, %d bytes) = %#x, want %#x", envWords, k, got, want)
			}
		}
	}
}
