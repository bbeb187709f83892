package bench

import (
	"encoding/binary"
	"testing"

	"github.com/kekbit-go/kekbit/journal"
)

// TestCheckAllocatesNothing: the readers' per-record check boxes nothing
// (a record's position turned into an interface per record was an
// allocation each, on both the channel's and the journal's readers).
func TestCheckAllocatesNothing(t *testing.T) {
	c := checker{size: 16}
	p := make([]byte, 16)
	jp := journal.MakePosition(3, 4096)
	if n := testing.AllocsPerRun(1000, func() {
		binary.LittleEndian.PutUint64(p, uint64(c.records))
		check(&c, position(123456), p)
		binary.LittleEndian.PutUint64(p, uint64(c.records))
		check(&c, jp, p)
	}); n != 0 || c.bad != nil {
		t.Fatalf("%v allocations per check (%v)", n, c.bad)
	}
}
