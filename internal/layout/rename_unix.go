//go:build unix && !linux

package layout

import "golang.org/x/sys/unix"

// renameNoReplace renames old (in olddirfd) to new (in newdirfd), failing
// with EEXIST if new exists (checked first: the protocol's lock file keeps
// any other creator of new out meanwhile).
func renameNoReplace(olddirfd int, old string, newdirfd int, new string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(newdirfd, new, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
		return unix.EEXIST
	}
	return unix.Renameat(olddirfd, old, newdirfd, new)
}
