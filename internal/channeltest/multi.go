package channeltest

import (
	"encoding/binary"
	"fmt"
)

// Tagged returns the payload of record seq of writer writer, of n bytes
// (at least 16): the writer id and seq, little endian, then bytes that
// depend on both and on their offset, so that a damaged or mixed-up
// payload shows.
func Tagged(writer, seq uint64, n int) []byte {
	p := make([]byte, max(n, 16))
	binary.LittleEndian.PutUint64(p, writer)
	binary.LittleEndian.PutUint64(p[8:], seq)
	for i := 16; i < len(p); i++ {
		p[i] = byte(writer + seq + uint64(i))
	}
	return p
}

// Order checks a stream of Tagged payloads from many writers: every one
// whole, each writer's in its own order from 0, none twice.
type Order struct {
	Next  map[uint64]uint64 // per writer: the records seen, the seq expected next
	Total int
}

// Add checks the next payload p.
func (c *Order) Add(p []byte) error {
	if len(p) < 16 {
		return fmt.Errorf("payload of %d bytes, not a tagged record", len(p))
	}
	wr, seq := binary.LittleEndian.Uint64(p), binary.LittleEndian.Uint64(p[8:])
	for i := 16; i < len(p); i++ {
		if p[i] != byte(wr+seq+uint64(i)) {
			return fmt.Errorf("writer %d record %d: byte %d damaged", wr, seq, i)
		}
	}
	if c.Next == nil {
		c.Next = map[uint64]uint64{}
	}
	if want := c.Next[wr]; seq != want {
		return fmt.Errorf("writer %d: record %d, want %d", wr, seq, want)
	}
	c.Next[wr]++
	c.Total++
	return nil
}
