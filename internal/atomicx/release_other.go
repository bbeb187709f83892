//go:build !amd64 || race

package atomicx

import "sync/atomic"

// StoreRelease stores v at *addr with (at least) release ordering.
func StoreRelease(addr *uint64, v uint64) { atomic.StoreUint64(addr, v) }
