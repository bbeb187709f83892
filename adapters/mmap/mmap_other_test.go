//go:build !linux && !darwin && !freebsd && !windows

package mmap_test

import (
	"errors"
	"testing"
)

// Where the backend is not ported (sys_other.go) the tests compile, so
// that go vet checks them, and the ones that need the system's block
// reservation skip.

var errDiskFull, errNoFallocate = errors.ErrUnsupported, errors.ErrUnsupported

func failFallocate(t *testing.T, _ error) { t.Skip("the mmap backend is not ported to this system") }

func allocated(t *testing.T, _ string) (size, alloc int64) {
	t.Skip("the mmap backend is not ported to this system")
	return 0, 0
}
