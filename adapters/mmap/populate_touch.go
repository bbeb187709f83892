//go:build darwin || freebsd || windows

package mmap

// populate faults in every page of mapping b by touching one word per
// page (touchPages): macOS, FreeBSD and Windows have no call that
// populates a shared file mapping as Linux's MADV_POPULATE_* do.
func populate(b []byte, w []uint64, writable bool) error {
	if len(b) == 0 {
		return nil
	}
	touchPages(w, writable)
	return nil
}
