package layout

import (
	"fmt"

	"github.com/kekbit-go/kekbit/ports"
)

// CheckAccess returns the error of an access of n bytes at offset off in
// a file-backed storage of size bytes, named name in the error:
// ports.ErrStorageClosed if the storage is closed, ports.ErrOutOfRange if
// the access does not lie wholly inside it, nil if it does.
func CheckAccess(closed bool, off int64, n int, size int64, name string) error {
	if closed {
		return ports.ErrStorageClosed
	}
	if off < 0 || off > size || int64(n) > size-off {
		return fmt.Errorf("%w: %d bytes at offset %d, size %d (%s)", ports.ErrOutOfRange, n, off, size, name)
	}
	return nil
}

// AsStorage returns st and err as a Volume method returns them: a nil
// ports.Storage, not a typed nil, with an error.
func AsStorage[S ports.Storage](st S, err error) (ports.Storage, error) {
	if err != nil {
		return nil, err
	}
	return st, nil
}
