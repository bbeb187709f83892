//go:build !race

package atomicx

// StoreBeforeRMW stores v at *addr for a sync/atomic read-modify-write
// (CompareAndSwap, Add, Swap) that follows it in the same goroutine to
// publish: those are full barriers for the processor on every platform Go
// runs on, and the compiler does not move memory accesses across them, so
// v is visible to other goroutines no later than the read-modify-write.
// They must load it with sync/atomic. It is a plain store, cheaper than
// StoreRelease's call; in race-detector builds it is atomic.StoreUint64.
func StoreBeforeRMW(addr *uint64, v uint64) { *addr = v }
