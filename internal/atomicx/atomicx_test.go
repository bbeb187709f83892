package atomicx_test

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/kekbit-go/kekbit/internal/atomicx"
)

func TestStoreReleaseStores(t *testing.T) {
	var w uint64
	atomicx.StoreRelease(&w, 0xFFFF_FFFF_1111_1111)
	if atomic.LoadUint64(&w) != 0xFFFF_FFFF_1111_1111 {
		t.Fatalf("%x", w)
	}
}

// TestMessagePassing publishes a payload with plain stores and a flag with
// StoreRelease; a reader that sees the flag must see the payload.
func TestMessagePassing(t *testing.T) {
	const rounds = 200_000
	var slots [rounds]struct {
		payload [3]uint64
		flag    uint64
	}
	var wg sync.WaitGroup
	wg.Add(1)
	bad := 0
	go func() {
		defer wg.Done()
		for i := range slots {
			for atomic.LoadUint64(&slots[i].flag) == 0 {
				runtime.Gosched()
			}
			p := slots[i].payload
			if p[0] != uint64(i)+1 || p[1] != uint64(i)+2 || p[2] != uint64(i)+3 {
				bad++
			}
		}
	}()
	for i := range slots {
		slots[i].payload = [3]uint64{uint64(i) + 1, uint64(i) + 2, uint64(i) + 3}
		atomicx.StoreRelease(&slots[i].flag, 1)
	}
	wg.Wait()
	if bad != 0 {
		t.Fatalf("%d payloads seen before their flag", bad)
	}
}
