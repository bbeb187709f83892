package testio

import (
	"strings"
	"sync"
	"testing"
)

// TestBufferConcurrent: writes from one goroutine and reads from another
// (run with -race) lose nothing and see only whole writes' prefixes.
func TestBufferConcurrent(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 1000 {
			b.Write([]byte("ab"))
		}
	}()
	for range 100 {
		if s := b.String(); strings.Count(s, "ab")*2 != len(s) {
			t.Fatalf("read %q mid-write", s)
		}
	}
	wg.Wait()
	if got := b.String(); got != strings.Repeat("ab", 1000) {
		t.Fatalf("%d bytes after the writes, want 2000", len(got))
	}
}
