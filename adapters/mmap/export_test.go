//go:build linux

package mmap

// Fallocate lets the tests replace the call that reserves a new file's
// blocks, to simulate a full disk or a filesystem without fallocate.
var Fallocate = &fallocate
