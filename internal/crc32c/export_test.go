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

// VerifyRunGeneric is verifyRunGeneric (its caller's checks first), for the tests.
func VerifyRunGeneric(words []uint64, pos, stop, maxMsg, envLen uint64, budget int) uint64 {
	stop = min(stop, 8*uint64(len(words)))
	if pos&7 != 0 || envLen < 8 || budget <= 0 {
		return pos
	}
	return verifyRunGeneric(words, pos, stop, maxMsg, envLen, budget)
}
