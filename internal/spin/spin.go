// Package spin waits on the CPU for short times, without a system call or
// the scheduler: the pause between two looks of a spinning reader.
package spin

import (
	"sync"
	"time"
)

// Rounds returns how many rounds of Loop take about d on this machine.
func Rounds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int(roundsPerMicro() * float64(d) / float64(time.Microsecond))
}

// Loop runs n rounds of a loop that does nothing but take time. It is
// never inlined, so a call stays even when its result is dropped.
//
//go:noinline
func Loop(n int) int {
	x := 0
	for i := range n {
		x ^= i
	}
	return x
}

// roundsPerMicro is measured once, on first use.
var roundsPerMicro = sync.OnceValue(func() float64 {
	const n = 200_000
	start := time.Now()
	Loop(n)
	return n / max(float64(time.Since(start))/float64(time.Microsecond), 1e-3)
})
