package domain

import "fmt"

// Version is a channel format version: major<<48 | minor<<32 | patch.
type Version uint64

// CurrentVersion is the format this package writes: 1.0.0.
const CurrentVersion = Version(1 << 48)

// NewVersion packs major.minor.patch.
func NewVersion(major, minor uint16, patch uint32) Version {
	return Version(uint64(major)<<48 | uint64(minor)<<32 | uint64(patch))
}

// Major returns the major number.
func (v Version) Major() uint16 { return uint16(v >> 48) }

// Minor returns the minor number.
func (v Version) Minor() uint16 { return uint16(v >> 32) }

// Patch returns the patch number.
func (v Version) Patch() uint32 { return uint32(v) }

// String prints the version as "major.minor.patch".
func (v Version) String() string {
	return fmt.Sprintf("%d.%d.%d", v.Major(), v.Minor(), v.Patch())
}

// CanRead reports whether a reader of version v reads channels written in
// format w: any version up to and including its own.
func (v Version) CanRead(w Version) bool { return w <= v }
