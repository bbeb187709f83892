//go:build linux

package mmap

import (
	"golang.org/x/sys/unix"
)

// aheadChunk is how much of a new channel's mapping the background
// pretouch populates per call (WithPretouchAhead).
const aheadChunk = 1 << 20

// populateAhead populates b, a writer's fresh mapping, a chunk at a time
// from its start with MADV_POPULATE_WRITE, which writes no byte (the
// writer may be writing there meanwhile), until it is done or stop is
// closed. It gives up where the call is not there (before Linux 5.14):
// touching the pages instead would write them.
func populateAhead(b []byte, stop <-chan struct{}) {
	for off := 0; off < len(b); off += aheadChunk {
		select {
		case <-stop:
			return
		default:
		}
		end := min(off+aheadChunk, len(b))
		if err := retryEINTR(func() error { return unix.Madvise(b[off:end], unix.MADV_POPULATE_WRITE) }); err != nil {
			return
		}
	}
}
