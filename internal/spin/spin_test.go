package spin

import (
	"testing"
	"time"
)

func TestRounds(t *testing.T) {
	if Rounds(0) != 0 || Rounds(-time.Second) != 0 {
		t.Fatal("no pause must be no rounds")
	}
	r1, r10 := Rounds(time.Microsecond), Rounds(10*time.Microsecond)
	if r1 <= 0 || r10 < 5*r1 {
		t.Fatalf("1µs = %d rounds, 10µs = %d rounds", r1, r10)
	}
	// Loop takes time in proportion to its rounds: 10ms worth takes well
	// over 1ms (a generous bound for a loaded machine).
	start := time.Now()
	Loop(Rounds(10 * time.Millisecond))
	if d := time.Since(start); d < time.Millisecond {
		t.Fatalf("10ms of rounds took %v", d)
	}
}
