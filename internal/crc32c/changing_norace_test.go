//go:build !race

package crc32c_test

import (
	"runtime"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/kekbit-go/kekbit/internal/crc32c"
)

// TestCopyRecordChangingSource: a payload that another goroutine keeps
// rewriting while CopyRecord and SealRecordAccel copy it (a caller's data
// race, or a source in memory another process writes) still gives records
// whose checksum matches the bytes copied: each word is checksummed as it
// was stored, not read twice. (The race is the point, so the race detector
// is off for this file.)
func TestCopyRecordChangingSource(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs two threads running at once")
	}
	const env = 3
	src := make([]uint64, 16) // 128 bytes
	p := unsafe.Slice((*byte)(unsafe.Pointer(&src[0])), 8*len(src))
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for v := uint64(1); !stop.Load(); v++ {
			for i := range src {
				atomic.StoreUint64(&src[i], v*0x9E3779B97F4A7C15+uint64(i))
			}
		}
	}()
	defer func() { stop.Store(true); <-done }()
	rec := make([]uint64, 1+env+len(src)+1)
	n := uint64(8*env + len(p))
	bad := 0
	for i := range 300_000 {
		var crc uint32
		if i%2 == 0 || !crc32c.Accelerated {
			crc = crc32c.CopyRecord(n, rec, env, p)
		} else {
			crc32c.SealRecordAccel(n, rec, env, p, 0xFFFF_FFFF_1111_1111)
			crc = uint32(rec[1])
		}
		if crc != crc32c.Record(n, 0, rec[2:1+env+len(src)]) {
			bad++
		}
	}
	if bad != 0 {
		t.Fatalf("%d of 300000 records have a checksum that does not match their bytes", bad)
	}
}
