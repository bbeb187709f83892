//go:build amd64 && !race

package atomicx

// StoreRelease stores v at *addr with release ordering: every store before
// it becomes visible to another thread no later than v does.
//
//go:noescape
func StoreRelease(addr *uint64, v uint64)
