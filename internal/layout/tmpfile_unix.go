//go:build unix && !linux

package layout

import "golang.org/x/sys/unix"

// openUnnamed fails: this system has no O_TMPFILE, so CreateLocked uses a
// temporary name.
func openUnnamed(int) (int, error) { return -1, unix.EOPNOTSUPP }
