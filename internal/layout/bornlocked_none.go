//go:build solaris

package layout

// CreateLocked is ErrNotBornLocked: this system's golang.org/x/sys has no
// linkat, so its lock files are made by CreateExclusive, then locked, and
// a take-over looks at a free one twice.
func (OSFS) CreateLocked(string, []byte) (OSFile, error) { return OSFile{}, ErrNotBornLocked }
