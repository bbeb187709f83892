package mmap

import (
	"os"
	"unsafe"
)

// wordsOf views a mapping as native-endian 64-bit words, the last one
// covering the mapping's last bytes when its length is not a multiple of 8.
//
// This is the package's only use of unsafe, and it is safe because:
//   - mmap returns page-aligned memory, so the first word is 8-byte aligned,
//     as sync/atomic requires;
//   - the kernel maps whole pages and a page is a multiple of 8 bytes, so a
//     last word reaching past len(b) still lies inside the mapped page
//     (bytes past the end of the file read as zero);
//   - the mapping is not Go heap memory: the garbage collector neither moves
//     nor frees it. The words are valid exactly as long as the bytes, until
//     munmap, after which Storage hands out neither view.
func wordsOf(b []byte) []uint64 {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(b))), (len(b)+7)/8)
}

// offsetIn returns the offset of addr in the pages of mapping m, or false
// if it is not in them: mmap maps whole pages, so a fault can hit the last
// page past len(m).
func offsetIn(m []byte, addr uintptr) (int64, bool) {
	if len(m) == 0 {
		return 0, false
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(m)))
	page := uintptr(os.Getpagesize())
	if addr < start || addr-start >= (uintptr(len(m))+page-1)/page*page {
		return 0, false
	}
	return int64(addr - start), true
}
