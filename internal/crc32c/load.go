package crc32c

import "sync/atomic"

// loadAcquire loads a length word as a reader must: before the record's
// other words.
func loadAcquire(p *uint64) uint64 { return atomic.LoadUint64(p) }
