//go:build darwin || freebsd

package mmap

// populate faults in every page of mapping b by touching one word per
// page (touchPages): macOS and FreeBSD have no madvise that populates a
// shared file mapping as Linux's MADV_POPULATE_* do.
func populate(b []byte, w []uint64, writable bool) error {
	if len(b) == 0 {
		return nil
	}
	touchPages(w, writable)
	return nil
}
