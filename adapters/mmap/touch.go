package mmap

import (
	"os"
	"sync/atomic"
)

// touchPages faults in every page of a mapping through its word view w:
// an atomic add of zero on a writable one (a real write, which the
// compiler cannot drop, that leaves the content as it is, whoever writes
// meanwhile), an atomic load on a read-only one.
func touchPages(w []uint64, writable bool) {
	step := os.Getpagesize() / 8
	for i := 0; i < len(w); i += step {
		if writable {
			atomic.AddUint64(&w[i], 0)
		} else {
			atomic.LoadUint64(&w[i])
		}
	}
}
