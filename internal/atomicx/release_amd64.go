//go:build amd64 && !race

package atomicx

// StoreRelease stores v at *addr with release ordering: every store before
// it becomes visible to another thread no later than v does.
//
//go:noescape
func StoreRelease(addr *uint64, v uint64)

// ReleaseIsPlain reports whether StoreRelease is a plain store (a MOV in
// assembly), so that assembly elsewhere may publish with a plain store of
// its own where StoreRelease would be called: true on amd64 outside
// race-detector builds, where x86-TSO keeps stores in order.
const ReleaseIsPlain = true
