//go:build linux

package layout

import "golang.org/x/sys/unix"

// renameNoReplace renames old (in olddirfd) to new (in newdirfd), failing
// with EEXIST if new exists.
func renameNoReplace(olddirfd int, old string, newdirfd int, new string) error {
	return unix.Renameat2(olddirfd, old, newdirfd, new, unix.RENAME_NOREPLACE)
}
