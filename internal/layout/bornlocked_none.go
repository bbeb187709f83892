//go:build solaris || aix

package layout

import "errors"

// CreateLocked is errors.ErrUnsupported: this system's golang.org/x/sys
// has no linkat, so its lock files are made by CreateExclusive, then
// locked, and a take-over looks at a free one twice.
func (OSFS) CreateLocked(string, []byte) (OSFile, error) { return OSFile{}, errors.ErrUnsupported }
