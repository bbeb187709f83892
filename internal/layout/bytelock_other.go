//go:build !linux

package layout

import (
	"errors"
	"fmt"
)

// ByteLocks tells whether OSFile's byte locks (the slot locks of a
// multi-writer channel) work on this system: only Linux's open file
// description locks are used for them so far.
const ByteLocks = false

var errNoByteLocks = fmt.Errorf("kekbit: byte-range locks for multi-writer channels: %w on this system", errors.ErrUnsupported)

// LockByte fails: no byte locks on this system.
func (OSFile) LockByte(int64) error { return errNoByteLocks }

// UnlockByte fails: no byte locks on this system.
func (OSFile) UnlockByte(int64) error { return errNoByteLocks }

// ByteLocked fails: no byte locks on this system.
func (OSFile) ByteLocked(int64) (bool, error) { return false, errNoByteLocks }
