//go:build !linux

package mmap

// populateAhead does nothing here: no system call populates a shared
// mapping without writing to it (WithPretouchAhead is Linux's).
func populateAhead([]byte, <-chan struct{}) {}
