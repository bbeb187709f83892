//go:build unix && !linux && !solaris

package layout

import "golang.org/x/sys/unix"

// noTmpfile is the Linux build's switch for the tests of the fallback,
// which this system always takes.
var noTmpfile bool

// openUnnamed fails: this system has no O_TMPFILE, so CreateLocked uses a
// temporary name.
func openUnnamed(int) (int, error) { return -1, unix.EOPNOTSUPP }

// linkUnnamed is never called: openUnnamed makes no unnamed file here.
func linkUnnamed(int, int, string) error { return unix.EOPNOTSUPP }
