package journal

import "fmt"

// Position is a place in a journal: the segment index in the high 32 bits,
// the position in that segment's data region in the low 32 bits. Positions
// order the way the journal does.
type Position uint64

// MakePosition returns the position off in segment seg.
func MakePosition(seg uint64, off uint64) Position { return Position(seg<<32 | off&0xFFFF_FFFF) }

// Segment returns the segment index.
func (p Position) Segment() uint64 { return uint64(p) >> 32 }

// Offset returns the position inside the segment's data region.
func (p Position) Offset() uint64 { return uint64(p) & 0xFFFF_FFFF }

// String returns "segment:offset".
func (p Position) String() string { return fmt.Sprintf("%d:%d", p.Segment(), p.Offset()) }
