//go:build linux || darwin || freebsd || windows

package mmap

// Fallocate lets the tests replace the call that reserves a new file's
// blocks, to simulate a full disk or a filesystem without fallocate.
var Fallocate = &fallocate

// TouchPages is the pretouch fallback for kernels without
// MADV_POPULATE_WRITE, for the benchmark that compares the two.
var TouchPages = touchPages

// RemoveFile is the Volume's removal of one file, which on Windows waits
// out a brief open elsewhere.
var RemoveFile = removeFile

// SlotLockOffset is the file offset of slot i's lock byte, to check it
// against the domain's layout.
func SlotLockOffset(i int) int64 { return slotLockBase + slotLockStride*int64(i) }

// SlotLocks is how many slot locks a storage has.
const SlotLocks = slotLocks
