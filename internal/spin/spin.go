// Package spin waits on the CPU for short times, without a system call or
// the scheduler: the pause between two looks of a spinning reader.
package spin

import (
	"sync"
	"sync/atomic"
	"time"
)

// Rounds returns how many rounds of Loop take about d on this machine.
func Rounds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int(roundsPerMicro() * float64(d) / float64(time.Microsecond))
}

// Loop runs n rounds of a loop that does nothing but take time. Its
// result goes to a package variable, so that no compiler may drop the
// work as having no effect.
func Loop(n int) {
	x := uint64(0)
	for i := range n {
		x ^= uint64(i)
	}
	sink.Store(x)
}

// sink receives Loop's result: a side effect, once per pause.
var sink atomic.Uint64

// roundsPerMicro is measured once, on first use.
var roundsPerMicro = sync.OnceValue(func() float64 {
	const n = 200_000
	start := time.Now()
	Loop(n)
	return n / max(float64(time.Since(start))/float64(time.Microsecond), 1e-3)
})
