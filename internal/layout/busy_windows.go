package layout

import (
	"errors"

	"golang.org/x/sys/windows"
)

// lockFileBusy reports whether err, from opening a lock file, says that
// another open file keeps it from being opened now: on Windows a sharing
// violation, which a creator removing its lock file (it closes it, then
// deletes it) or a remover holding it can cause for an instant.
func lockFileBusy(err error) bool { return errors.Is(err, windows.ERROR_SHARING_VIOLATION) }
