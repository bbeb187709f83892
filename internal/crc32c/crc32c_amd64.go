package crc32c

import "golang.org/x/sys/cpu"

var haveSSE42 = cpu.X86.HasSSE42

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

// payloadSSE42 is Payload with the CRC32 instruction.
//
//go:noescape
func payloadSSE42(n uint64, env []uint64, p []byte) uint32
