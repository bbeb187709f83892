//go:build linux

package layout

import (
	"errors"
	"github.com/kekbit-go/kekbit/ports"
	"os"

	"golang.org/x/sys/unix"
)

// TrySole takes a write lease on the file (fcntl F_SETLEASE F_WRLCK),
// which Linux grants only while no other open file of it exists, in this
// process or another: a mapping counts as one, even after its descriptor
// was closed. ports.ErrChannelInUse if one does. While the lease is held, an open of the
// file by another open file waits for it to be released (one with
// O_NONBLOCK, as OSFS opens, fails with EWOULDBLOCK, which OSFS waits
// out); release gives it up. The file must belong to this process's user.
func (f OSFile) TrySole() (release func() error, err error) {
	if _, err := unix.FcntlInt(f.Fd(), unix.F_SETLEASE, unix.F_WRLCK); err != nil {
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EBUSY) {
			return nil, ports.ErrChannelInUse
		}
		return nil, os.NewSyscallError("fcntl F_SETLEASE", err)
	}
	return func() error {
		if _, err := unix.FcntlInt(f.Fd(), unix.F_SETLEASE, unix.F_UNLCK); err != nil {
			return os.NewSyscallError("fcntl F_SETLEASE F_UNLCK", err)
		}
		return nil
	}, nil
}
