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
	for k := 1; k <= maxK; k++ {
		t[k] = [2]uint64{uint64(xpow(128*k - 33)), uint64(xpow(64*k - 33))}
	}
	return t
}()

// xpow returns x^n mod the Castagnoli polynomial, bit-reflected as the
// CRC32 instruction keeps its register.
func xpow(n int) uint32 {
	v := uint32(1 << 31) // x^0
	for range n {
		if v&1 != 0 {
			v = v>>1 ^ 0x82F63B78
		} else {
			v >>= 1
		}
	}
	return v
}

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
