//go:build linux

package layout

import (
	"syscall"

	"golang.org/x/sys/unix"
)

var _ Holes = OSFile{}

// DataEnd returns the end of the run of allocated bytes at off (lseek
// SEEK_HOLE): off if off lies in a hole, the file's length at or past its
// end. It moves the file's offset, which the protocol does not use.
func (f OSFile) DataEnd(off int64) (int64, bool) {
	for {
		end, err := unix.Seek(int(f.Fd()), off, unix.SEEK_HOLE)
		switch err {
		case nil:
			return end, true
		case unix.EINTR:
			continue
		case unix.ENXIO: // off is at or past the end
			fi, err := f.Stat()
			if err != nil {
				return 0, false
			}
			return fi.Size(), true
		}
		return 0, false
	}
}

// Allocated returns the bytes allocated to the file: st_blocks, in units
// of 512 bytes.
func (f OSFile) Allocated() (int64, bool) {
	fi, err := f.Stat()
	if err != nil {
		return 0, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Blocks * 512, true
}
