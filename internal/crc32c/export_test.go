package crc32c

// RecordGeneric is recordGeneric, for the tests.
var RecordGeneric = recordGeneric

// CopyGeneric is copyGeneric, for the tests.
var CopyGeneric = copyGeneric

// RecordSerial is Record one word at a time (the CRC32 instruction where
// the processor has it), for the tests.
func RecordSerial(n uint64, hi uint32, words []uint64) uint32 {
	if haveSSE42 {
		return recordSSE42(n, hi, words)
	}
	return recordGeneric(n, hi, words)
}
