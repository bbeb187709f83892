//go:build race

package atomicx

import "sync/atomic"

// StoreBeforeRMW stores v at *addr; in race-detector builds an
// atomic.StoreUint64, so that the detector sees the synchronisation (see
// rmw.go).
func StoreBeforeRMW(addr *uint64, v uint64) { atomic.StoreUint64(addr, v) }
