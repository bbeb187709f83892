package crc32c_test

import (
	"encoding/binary"
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
