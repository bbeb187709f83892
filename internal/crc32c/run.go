package crc32c

import "sync/atomic"

// VerifyRun checks, from byte position pos of words (a channel's data
// region, pos a multiple of 8), a run of consecutive records of a channel
// whose envelope has the CRC, and returns the position after the last one
// that passed, pos if none did. A record passes when its length word n is
// above envLen (the envelope's bytes) and at most maxMsg, it ends at or
// before stop, and its CRC field (the low half of its second word) is
// Record of it. The run stops before the first record that does not pass
// (a heartbeat, the watermark, a mark, a damaged record) and after budget
// records; what stopped it is for the caller to find out. Words past
// stop, or past the end of words, are not read. The length words are
// loaded as the first load of each record, in order (acquire on amd64,
// where every load is one).
func VerifyRun(words []uint64, pos, stop, maxMsg, envLen uint64, budget int) uint64 {
	stop = min(stop, 8*uint64(len(words)))
	if pos&7 != 0 || envLen < 8 || budget <= 0 {
		return pos
	}
	if haveSSE42 {
		return verifyRunSSE42(words, pos, stop, maxMsg, envLen, budget)
	}
	return verifyRunGeneric(words, pos, stop, maxMsg, envLen, budget)
}

// verifyRunGeneric is VerifyRun through Record.
func verifyRunGeneric(words []uint64, pos, stop, maxMsg, envLen uint64, budget int) uint64 {
	for ; budget > 0 && pos+8 <= stop; budget-- {
		n := atomic.LoadUint64(&words[pos/8]) // before the record's other words
		if n <= envLen || n > maxMsg {
			break
		}
		end := pos + (n+15)&^7 // the record's size, domain.RecordSize(n)
		if end > stop {
			break
		}
		w := words[pos/8 : end/8]
		if uint32(w[1]) != Record(n, uint32(w[1]>>32), w[2:]) {
			break
		}
		pos = end
	}
	return pos
}
