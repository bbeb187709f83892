package crc32c_test

import (
	"encoding/binary"
	"hash/crc32"
	"math/rand/v2"
	"testing"

	"github.com/kekbit-go/kekbit/internal/crc32c"
)

// runModel is VerifyRun by its documentation, through hash/crc32 over
// the records' bytes.
func runModel(words []uint64, pos, stop, maxMsg, envLen uint64, budget int) uint64 {
	tab := crc32.MakeTable(crc32.Castagnoli)
	stop = min(stop, 8*uint64(len(words)))
	if pos%8 != 0 || envLen < 8 {
		return pos
	}
	for ; budget > 0 && pos+8 <= stop; budget-- {
		n := words[pos/8]
		end := pos + (8+n+7)/8*8
		if n <= envLen || n > maxMsg || end > stop {
			break
		}
		var b []byte
		for _, w := range words[pos/8 : end/8] {
			b = binary.LittleEndian.AppendUint64(b, w)
		}
		want := binary.LittleEndian.Uint32(b[8:])
		if crc32.Checksum(append(b[:8:8], b[12:]...), tab) != want {
			break
		}
		pos = end
	}
	return pos
}

// sealRecord writes at word i a record of n bytes (envelope included)
// with random contents and a right CRC, and returns the word after it.
func sealRecord(rng *rand.Rand, words []uint64, i int, n uint64) int {
	k := int((8 + n + 7) / 8)
	words[i] = n
	for j := i + 1; j < i+k; j++ {
		words[j] = rng.Uint64()
	}
	if tail := n % 8; tail != 0 { // zero padding, as a writer leaves it
		words[i+k-1] &= 1<<(8*tail) - 1
	}
	words[i+1] &= 0xFFFF_FFFF << 32
	words[i+1] |= uint64(crc32c.Record(n, uint32(words[i+1]>>32), words[i+2:i+k]))
	return i + k
}

// TestVerifyRun: on random data regions of good records, heartbeats,
// damaged records (a flipped bit, a bad length, a record crossing the
// end), the watermark and the close mark, VerifyRun and its Go version
// stop where the model does, from every record boundary and some other
// positions, for several budgets, stops and envelope lengths.
func TestVerifyRun(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for trial := range 3000 {
		words := make([]uint64, 64+rng.IntN(200))
		envLen := uint64(8 * (1 + rng.IntN(3)))
		maxMsg := envLen + uint64(rng.IntN(300))
		var bounds []uint64
		i := 0
		for i < len(words) {
			bounds = append(bounds, uint64(8*i))
			left := len(words) - i
			switch c := rng.IntN(20); {
			case c == 0:
				words[i] = 0 // heartbeat
				i++
			case c == 1:
				words[i] = 0xFFFF_FFFF_1111_1111 // the watermark
				i++
			case c == 2:
				words[i] = ^uint64(0) // the close mark
				i++
			case c == 3:
				words[i] = envLen - uint64(rng.IntN(int(envLen)+1)) // too short for the envelope
				i++
			case c == 4:
				words[i] = maxMsg + 1 + uint64(rng.IntN(100)) // too long
				i++
			default:
				n := envLen + 1 + uint64(rng.IntN(int(maxMsg-envLen)+1))
				if maxMsg == envLen {
					n = envLen + 1
				}
				if int((8+n+7)/8) > left {
					words[i] = n // crosses the end
					i = len(words)
					break
				}
				j := sealRecord(rng, words, i, n)
				if c == 5 { // one bit flipped, anywhere in the record
					b := rng.IntN(64 * (j - i))
					words[i+b/64] ^= 1 << (b % 64)
				}
				i = j
			}
		}
		for _, pos := range append(bounds, uint64(rng.IntN(8*len(words))), uint64(8*rng.IntN(len(words)))) {
			stop := uint64(rng.IntN(8*len(words) + 40))
			budget := rng.IntN(40) - 2
			want := runModel(words, pos, stop, maxMsg, envLen, budget)
			if got := crc32c.VerifyRun(words, pos, stop, maxMsg, envLen, budget); got != want {
				t.Fatalf("trial %d: VerifyRun(pos %d, stop %d, max %d, env %d, budget %d) = %d, want %d", trial, pos, stop, maxMsg, envLen, budget, got, want)
			}
			if got := crc32c.VerifyRunGeneric(words, pos, stop, maxMsg, envLen, budget); got != want {
				t.Fatalf("trial %d: verifyRunGeneric(pos %d, stop %d, max %d, env %d, budget %d) = %d, want %d", trial, pos, stop, maxMsg, envLen, budget, got, want)
			}
		}
	}
}

// TestVerifyRunReadsNothingPastStop: records that end exactly at stop
// pass, and the word at stop, poisoned, is never taken for a record.
func TestVerifyRunReadsNothingPastStop(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	words := make([]uint64, 40)
	i := 0
	for i < 30 {
		i = sealRecord(rng, words, i, 24+uint64(rng.IntN(20)))
	}
	stop := uint64(8 * i)
	sealRecord(rng, words, i, 24) // a good record just past stop
	for _, f := range []func([]uint64, uint64, uint64, uint64, uint64, int) uint64{crc32c.VerifyRun, crc32c.VerifyRunGeneric} {
		if got := f(words, 0, stop, 100, 24, 100); got != stop {
			t.Fatalf("run to %d, want stop %d", got, stop)
		}
		if got := f(words[:i], 0, 1<<40, 100, 24, 100); got != stop {
			t.Fatalf("run on the words up to %d: to %d", stop, got)
		}
	}
}
