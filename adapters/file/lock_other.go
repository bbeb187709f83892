//go:build !unix

package file

import "github.com/spf13/afero"

// lockWriter does nothing where there is no flock.
func lockWriter(afero.File) {}
