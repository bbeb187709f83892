package layout

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/kekbit-go/kekbit/ports"
)

// The operations of the protocol, as its errors name them
// (ports.ChannelError.Op).
const (
	OpCreate          = "create"
	OpOpen            = "open"
	OpOpenForWrite    = "open for write"
	OpRemove          = "remove"
	OpRemoveAbandoned = "remove abandoned"
	OpClearDead       = "clear dead creator"
	OpProbe           = "probe"
)

// ErrLocked is returned by a Locker's TryLock and TryRLock when another
// open file holds a lock that conflicts.
var ErrLocked = errors.New("kekbit: the file is locked by another open file")

// Channel is a channel file as the protocol's errors name it: a volume's
// channel (its id and path), or a file opened by its path alone.
type Channel struct {
	ID     uint64 // the channel's id; unknown if ByPath
	Path   string // the channel file
	ByPath bool   // a file opened by its path: errors name the path alone, and Create makes no folder
}

// VolumeChannel returns channel id of the volume rooted at root.
func VolumeChannel(root string, id uint64) Channel {
	return Channel{ID: id, Path: ChannelPath(root, id)}
}

// FileChannel returns the channel file at path, whatever its name and
// folder, whose id is not known.
func FileChannel(path string) Channel { return Channel{Path: path, ByPath: true} }

// Error returns the error of operation op on the channel, which failed
// because of err: a *ports.ChannelError for a volume's channel, an error
// naming the path alone for a file opened by its path. Either unwraps to
// err. err should not name the path itself: see StripPath.
func (c Channel) Error(op string, err error) error {
	if c.ByPath {
		return &fileError{op: op, path: c.Path, err: err}
	}
	return &ports.ChannelError{Op: op, ChannelID: c.ID, Path: c.Path, Err: err}
}

// fileError is the error of an operation on a channel file opened by its
// path: ports.ChannelError without the channel id.
type fileError struct {
	op, path string
	err      error
}

func (e *fileError) Error() string {
	return fmt.Sprintf("kekbit: %s channel file %s: %s", e.op, e.path, strings.TrimPrefix(e.err.Error(), "kekbit: "))
}

func (e *fileError) Unwrap() error { return e.err }

// StripPath returns the error under the *fs.PathError, *os.LinkError and
// *os.SyscallError wrapping err, if any: the operating system's error
// (an errno, fs.ErrNotExist, ...) without the path and system call that
// the caller names itself. errors.Is(StripPath(err), syscall.ENOSPC) is
// errors.Is(err, syscall.ENOSPC). nil stays nil.
func StripPath(err error) error {
	for {
		switch e := err.(type) {
		case *fs.PathError:
			err = e.Err
		case *os.LinkError:
			err = e.Err
		case *os.SyscallError:
			err = e.Err
		default:
			return err
		}
	}
}

// step returns err, path stripped, as the failure of a step the message
// names ("removing its lock file: permission denied"), or nil.
func step(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, StripPath(err))
}
