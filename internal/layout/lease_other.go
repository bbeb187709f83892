//go:build !linux

package layout

import (
	"errors"
	"fmt"
	"github.com/kekbit-go/kekbit/ports"
)

// TrySole says that this system cannot tell whether another open file of
// the file exists: a channel file is never recycled here.
func (OSFile) TrySole() (release func() error, err error) {
	return nil, fmt.Errorf("%w: no file leases here: %w", ports.ErrChannelInUse, errors.ErrUnsupported)
}
