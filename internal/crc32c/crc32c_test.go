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

// TestCopyRecord: CopyRecord of a payload of every length up to 1,100
// bytes (past the two-stream limit of 1,024) after envelopes of 1 to 3
// words stores the payload's bytes padded with zeros over whatever was in
// the record, touches no word past them, and returns Record of the
// record it made; its Go version agrees.
func TestCopyRecord(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for k := range 1101 {
		for env := 1; env <= 3; env++ {
			p := make([]byte, k)
			for i := range p {
				p[i] = byte(rng.Uint32())
			}
			padded := make([]byte, (k+7)/8*8)
			copy(padded, p)
			n := rng.Uint64()
			fs := []struct {
				name string
				copy func(uint64, []uint64, int, []byte) uint32
			}{{"CopyRecord", crc32c.CopyRecord}, {"copyGeneric", crc32c.CopyGeneric}}
			if crc32c.Accelerated && k > 0 {
				fs = append(fs, fs[0])
				fs[2].name, fs[2].copy = "CopyRecordAccel", crc32c.CopyRecordAccel
			}
			for _, f := range fs {
				rec := make([]uint64, 1+env+len(padded)/8+1) // and one word past
				for i := range rec {
					rec[i] = rng.Uint64()
				}
				rec[1] &= 0xFFFF_FFFF // the CRC word's high half is zero
				past := rec[len(rec)-1]
				got := f.copy(n, rec, env, p)
				for i := 0; i < len(padded); i += 8 {
					if w := rec[1+env+i/8]; w != binary.LittleEndian.Uint64(padded[i:]) {
						t.Fatalf("%s(%d env words, %d bytes): word %d = %#x, want the payload's", f.name, env, k, i/8, w)
					}
				}
				if rec[len(rec)-1] != past {
					t.Fatalf("%s(%d env words, %d bytes) stored past the payload", f.name, env, k)
				}
				if want := crc32c.Record(n, 0, rec[2:len(rec)-1]); got != want {
					t.Fatalf("%s(%d env words, %d bytes) = %#x, want %#x", f.name, env, k, got, want)
				}
			}
		}
	}
}

// TestSealRecord: SealRecordAccel leaves the record CopyRecordAccel
// leaves, with its checksum in rec[1], the mark in the word after the
// padded payload, the length in rec[0], and nothing stored past the mark;
// a record too short for the mark is a panic, not a store past it.
func TestSealRecord(t *testing.T) {
	if !crc32c.Accelerated {
		t.Skip("SealRecordAccel runs only where Accelerated (amd64 with SSE4.2 and PCLMULQDQ)")
	}
	const mark = 0xFFFF_FFFF_1111_1111
	rng := rand.New(rand.NewPCG(7, 8))
	for k := 1; k <= 1100; k++ {
		for env := 1; env <= 3; env++ {
			p := make([]byte, k)
			for i := range p {
				p[i] = byte(rng.Uint32())
			}
			words := 1 + env + (k+7)/8
			want := make([]uint64, words+2)
			got := make([]uint64, words+2)
			for i := range want {
				want[i] = rng.Uint64()
			}
			want[1] &= 0xFFFF_FFFF
			copy(got, want)
			n := uint64(8*env + k)
			want[1] = uint64(crc32c.CopyRecordAccel(n, want, env, p))
			want[words], want[0] = mark, n
			crc32c.SealRecordAccel(n, got, env, p, mark)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("%d env words, %d bytes: word %d = %#x, want %#x", env, k, i, got[i], want[i])
				}
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a record without room for the mark")
		}
	}()
	rec := make([]uint64, 8)
	crc32c.SealRecordAccel(17, rec[:4], 1, make([]byte, 9), mark) // needs 1+1+2 words and the mark's
}

// TestCopyRecordShortRecord: a record too short for the padded payload
// is a panic of the bounds check, not a store past it.
func TestCopyRecordShortRecord(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	rec := make([]uint64, 8)
	crc32c.CopyRecord(0, rec[:4], 2, make([]byte, 9)) // needs 1+2+2 words
}

// BenchmarkCopyRecord: copying and checksumming a 72-byte payload after
// the full envelope, independent calls (throughput) and each waiting for
// the one before (latency).
func BenchmarkCopyRecord(b *testing.B) {
	p := make([]byte, 72)
	rec := make([]uint64, 1+3+9)
	b.Run("throughput", func(b *testing.B) {
		for range b.N {
			sink = crc32c.CopyRecord(96, rec, 3, p)
		}
	})
	b.Run("latency", func(b *testing.B) {
		var c uint32
		for range b.N {
			c = crc32c.CopyRecord(uint64(c), rec, 3, p)
		}
		sink = c
	})
}
