package memory

import "unsafe"

// newRegion allocates size bytes (rounded up to 8) as words, so that the
// memory is 8-byte aligned for sync/atomic, and returns both views of it.
//
// Viewing a []uint64 as bytes is safe: the byte slice covers exactly the
// words' memory, shares its lifetime (it keeps the array alive), and byte
// has no alignment requirement.
func newRegion(size int64) ([]byte, []uint64) {
	words := make([]uint64, (size+7)/8)
	if len(words) == 0 {
		return []byte{}, words
	}
	bytes := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), len(words)*8)
	return bytes[:size:size], words
}
