package crc32c

import "golang.org/x/sys/cpu"

var (
	haveSSE42 = cpu.X86.HasSSE42
	haveCLMUL = cpu.X86.HasSSE42 && cpu.X86.HasPCLMULQDQ
)

// maxK is the most words per stream of record3SSE42 (its ·shifts table).
const maxK = 128

// shifts[K] holds, for streams of K words, the reflected x^(128K-33) and
// x^(64K-33) mod the Castagnoli polynomial: multiplied (carry-less) with a
// checksum and reduced by the CRC32 instruction, they carry it past 16K
// and 8K zero bytes.
var shifts = func() (t [maxK + 1][2]uint64) {
	// x^n for n from 0 up, one multiplication by x a step, kept where
	// n+33 is a multiple of 64 (16K steps: taking each power on its own
	// cost a million, 4 ms of every program's start).
	v := uint32(1 << 31) // x^0
	for n := 0; n <= 128*maxK-33; n++ {
		if j := (n + 33) / 64; (n+33)%64 == 0 {
			if j <= maxK {
				t[j][1] = uint64(v) // x^(64j-33)
			}
			if j%2 == 0 {
				t[j/2][0] = uint64(v) // x^(128(j/2)-33)
			}
		}
		if v&1 != 0 {
			v = v>>1 ^ 0x82F63B78
		} else {
			v >>= 1
		}
	}
	return t
}()

// record3SSE42 is Record in three interleaved streams (CRC32 and PCLMULQDQ).
//
//go:noescape
func record3SSE42(n uint64, hi uint32, words []uint64) uint32

// updateSSE42 runs the CRC32 instruction over p, crc not inverted.
//
//go:noescape
func updateSSE42(crc uint32, p []byte) uint32

// updateWord runs the CRC32 instruction over the 8 bytes of v.
func updateWord(crc uint32, v uint64) uint32

// recordSSE42 is Record with the CRC32 instruction.
//
//go:noescape
func recordSSE42(n uint64, hi uint32, words []uint64) uint32

// copySSE42 is CopyRecord with the CRC32 instruction and PCLMULQDQ on the
// record whose first word is *rec; with a mark other than zero it is
// SealRecordAccel.
//
//go:noescape
func copySSE42(n uint64, rec *uint64, env int, p []byte, mark uint64) uint32

// verifyRunSSE42 is VerifyRun with the CRC32 instruction, the whole run in
// one call. The caller checked pos, envLen and budget, and that stop is
// within words.
//
//go:noescape
func verifyRunSSE42(words []uint64, pos, stop, maxMsg, envLen uint64, budget int) uint64
