//go:build windows

package mmap

import "unsafe"

// The Windows twin of unsafe.go's conversions: MapViewOfFile answers an
// address, which becomes the mapping's bytes here, and UnmapViewOfFile and
// FlushViewOfFile take it back.
//
// They are safe because the view is not Go heap memory (the garbage
// collector neither moves nor frees it), it is size bytes long and
// page-aligned (so wordsOf's alignment holds), and Storage hands the bytes
// out only until it unmaps the view.

// viewBytes returns the size bytes of the view at addr.
func viewBytes(addr uintptr, size int) []byte {
	// Through a pointer to addr, not unsafe.Pointer(addr): the address is
	// of memory outside Go's heap, which go vet cannot know.
	return unsafe.Slice((*byte)(*(*unsafe.Pointer)(unsafe.Pointer(&addr))), size)
}

// viewAddr returns the address of a view whose bytes are b.
func viewAddr(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }
