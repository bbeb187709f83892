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

// Payload is Record of a record whose CRC word's high half is zero, whose
// other envelope words are env and whose payload, p, is not in the record
// yet or is read from elsewhere: the words after the envelope are p's
// bytes, the last one padded with zeros. A writer checksums the bytes it
// copies from, not those it just stored.
func Payload(n uint64, env []uint64, p []byte) uint32 {
	if haveSSE42 {
		return payloadSSE42(n, env, p)
	}
	return payloadGeneric(n, env, p)
}

// payloadGeneric is Payload through hash/crc32.
func payloadGeneric(n uint64, env []uint64, p []byte) uint32 {
	crc := recordGeneric(n, 0, env)
	crc = crc32.Update(crc, Table, p)
	var zeros [8]byte
	return crc32.Update(crc, Table, zeros[:(8-len(p)%8)%8])
}
