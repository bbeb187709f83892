//go:build !unix && !windows

package layout

import (
	"errors"
	"fmt"
	"io/fs"
)

// Flock tells whether OSFile's locks work on this system: not here.
const Flock = false

var errNoFlock = fmt.Errorf("kekbit: flock: %w", errors.ErrUnsupported)

// TryLock fails: this system has no flock.
func (OSFile) TryLock() error { return errNoFlock }

// TryRLock fails: this system has no flock.
func (OSFile) TryRLock() error { return errNoFlock }

// Unlock fails: this system has no flock.
func (OSFile) Unlock() error { return errNoFlock }

// OSFileID reports that it cannot tell files apart on this system.
func OSFileID(fs.FileInfo) (any, bool) { return nil, false }

// closeToRemove says that this system removes a file that is open: the
// protocol removes a file while it still holds the file's lock.
const closeToRemove = false
