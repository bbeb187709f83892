//go:build !amd64 || race

package atomicx

import "sync/atomic"

// StoreRelease stores v at *addr with (at least) release ordering.
func StoreRelease(addr *uint64, v uint64) { atomic.StoreUint64(addr, v) }

// ReleaseIsPlain reports whether StoreRelease is a plain store: here it is
// not (another architecture, or a race-detector build, which must see the
// synchronisation).
const ReleaseIsPlain = false
