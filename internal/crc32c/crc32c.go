// Package crc32c computes CRC32C (Castagnoli) checksums of kekbit records
// faster than hash/crc32 does for them. On amd64 with SSE4.2 it runs the
// CRC32 instruction over 8 bytes at a time, with none of hash/crc32's
// set-up for long inputs; Record, over a record's words in place, runs
// three CRC32 chains side by side for records of 128 bytes or more and
// joins them with PCLMULQDQ (about 2.5x faster at 1 KiB). Elsewhere it is
// hash/crc32's Castagnoli. Update continues a checksum exactly as
// crc32.Update(crc, crc32.MakeTable(crc32.Castagnoli), p) does.
package crc32c

import (
	"encoding/binary"
	"hash/crc32"
	"unsafe"
)

// Table is the Castagnoli table of hash/crc32.
var Table = crc32.MakeTable(crc32.Castagnoli)

// Update returns the CRC32C of the bytes crc stands for followed by p
// (crc 0 for none).
func Update(crc uint32, p []byte) uint32 {
	if haveSSE42 {
		return ^updateSSE42(^crc, p)
	}
	return crc32.Update(crc, Table, p)
}

// UpdateUint64 is Update with the 8 little-endian bytes of v.
func UpdateUint64(crc uint32, v uint64) uint32 {
	if haveSSE42 {
		return ^updateWord(^crc, v)
	}
	var b [8]byte
	for i := range b {
		b[i] = byte(v >> (8 * i))
	}
	return crc32.Update(crc, Table, b[:])
}

// Record returns the CRC32C of the 8 little-endian bytes of n, then the 4
// of hi, then the little-endian bytes of words: the checksum of a kekbit
// record with the envelope's CRC (its length word, the high half of its
// CRC word, and its words from the third on), read or written in place.
func Record(n uint64, hi uint32, words []uint64) uint32 {
	if haveCLMUL && len(words) >= 16 { // below, the combine costs what the streams save
		return record3SSE42(n, hi, words)
	}
	if haveSSE42 {
		return recordSSE42(n, hi, words)
	}
	return recordGeneric(n, hi, words)
}

// recordGeneric is Record through hash/crc32, a block of words at a time.
func recordGeneric(n uint64, hi uint32, words []uint64) uint32 {
	var buf [256]byte
	le := binary.LittleEndian
	le.PutUint64(buf[:], n)
	le.PutUint32(buf[8:], hi)
	crc := crc32.Update(0, Table, buf[:12])
	for len(words) > 0 {
		k := min(len(words), len(buf)/8)
		for j, w := range words[:k] {
			le.PutUint64(buf[8*j:], w)
		}
		crc = crc32.Update(crc, Table, buf[:8*k])
		words = words[k:]
	}
	return crc
}

// CopyRecord copies p into the record whose words are rec, after its
// envelope, and returns the record's checksum: rec[0] is its length word,
// whose value is n; rec[1] its CRC word (its high half taken as zero);
// rec[2:1+env] the rest of its envelope, already filled; the payload's
// words, rec[1+env:], get p's bytes, the last one padded with zeros. A
// writer checksums the bytes as it copies them, in one pass. It panics if
// rec is too short for the padded payload.
func CopyRecord(n uint64, rec []uint64, env int, p []byte) uint32 {
	if Accelerated && env >= 1 && len(p) > 0 {
		return CopyRecordAccel(n, rec, env, p)
	}
	_ = rec[env+(len(p)+7)/8]
	return copyGeneric(n, rec, env, p)
}

// Accelerated reports whether CopyRecordAccel may be called: on amd64
// with SSE4.2 and PCLMULQDQ.
var Accelerated = haveCLMUL

// CopyRecordAccel is CopyRecord in assembly, for a caller that checked
// Accelerated, env >= 1 and p not empty (the bounds check below does not
// catch a negative env: the assembly would store before rec). It is small
// enough to be inlined, so that a writer calls the assembly directly (a
// call, its frame and its checks less per record). It panics if rec is too
// short.
func CopyRecordAccel(n uint64, rec []uint64, env int, p []byte) uint32 {
	_ = rec[uint(env)+uint(len(p)+7)/8] // the one bounds check: the assembly stores within it
	return copySSE42(n, unsafe.SliceData(rec), env, p, 0)
}

// SealRecordAccel is CopyRecordAccel that also publishes the record in
// the same call: it stores the checksum in rec[1] (its high half zero),
// mark in the word after the padded payload, rec[1+env+(len(p)+7)/8], and
// last n, the record's length, in rec[0], each a plain store, which other
// threads see in that order on amd64 (a release store of the length word,
// as atomicx.StoreRelease's where atomicx.ReleaseIsPlain). mark must not
// be zero. It panics if rec is too short for the payload and the mark.
func SealRecordAccel(n uint64, rec []uint64, env int, p []byte, mark uint64) {
	_ = rec[uint(env)+uint(len(p)+15)/8] // the one bounds check (1+env+K): the assembly stores within it
	copySSE42(n, unsafe.SliceData(rec), env, p, mark)
}

// copyGeneric is CopyRecord in Go, the checksum through hash/crc32.
func copyGeneric(n uint64, rec []uint64, env int, p []byte) uint32 {
	end := 1 + env + (len(p)+7)/8
	dst := rec[1+env : end]
	for i := range dst {
		var b [8]byte
		copy(b[:], p[min(8*i, len(p)):])
		dst[i] = binary.LittleEndian.Uint64(b[:])
	}
	return recordGeneric(n, 0, rec[2:end])
}
