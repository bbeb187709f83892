package mmap

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Extensions of the files of a channel.
const (
	// ChannelExt ends the name of a channel file.
	ChannelExt = ".kekbit"
	// LockExt ends the name of the lock file that exists while a channel is
	// being created.
	LockExt = ".lock"
)

// ChannelPath returns the path of channel id's file under root, as the Rust
// crate lays it out: root/HHHH_HHHH/LLLL_LLLL.kekbit, the high 32 bits of
// the id naming the folder and the low 32 bits the file.
func ChannelPath(root string, id uint64) string {
	return filepath.Join(root, half(uint32(id>>32)), half(uint32(id))+ChannelExt)
}

// LockPath returns the path of the lock file of the channel file at
// channelPath: the same path with .lock in place of .kekbit.
func LockPath(channelPath string) string {
	return strings.TrimSuffix(channelPath, ChannelExt) + LockExt
}

// ParseChannelPath returns the channel id of the channel file at path under
// root, the reverse of ChannelPath. It returns an error wrapping
// ErrNotChannelPath for any other path.
func ParseChannelPath(root, path string) (uint64, error) {
	rel, err := filepath.Rel(root, path)
	if err != nil {
		return 0, fmt.Errorf("%w: %s: %w", ErrNotChannelPath, path, err)
	}
	folder, file, ok := strings.Cut(filepath.ToSlash(rel), "/")
	if !ok {
		return 0, fmt.Errorf("%w: %s is not in a channel folder of %s", ErrNotChannelPath, path, root)
	}
	hi, okHi := parseHalf(folder)
	name, isChannel := strings.CutSuffix(file, ChannelExt)
	lo, okLo := parseHalf(name)
	if !okHi || !isChannel || !okLo {
		return 0, fmt.Errorf("%w: %s (want %s/HHHH_HHHH/LLLL_LLLL%s)", ErrNotChannelPath, path, root, ChannelExt)
	}
	return uint64(hi)<<32 | uint64(lo), nil
}

// half formats 32 bits as the crate does: "hhhh_llll", lowercase hex.
func half(v uint32) string { return fmt.Sprintf("%04x_%04x", v>>16, v&0xFFFF) }

// parseHalf is the reverse of half. It accepts only what half writes.
func parseHalf(s string) (uint32, bool) {
	if len(s) != 9 || s[4] != '_' {
		return 0, false
	}
	var v uint32
	for i := range len(s) {
		if i == 4 {
			continue
		}
		c := s[i]
		switch {
		case '0' <= c && c <= '9':
			v = v<<4 | uint32(c-'0')
		case 'a' <= c && c <= 'f':
			v = v<<4 | uint32(c-'a'+10)
		default:
			return 0, false
		}
	}
	return v, true
}
