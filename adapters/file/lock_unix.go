//go:build unix

package file

import (
	"os"
	"syscall"

	"github.com/spf13/afero"
)

// lockWriter takes the writer's flock on f when it is an operating-system
// file (OsFs), as the mmap backend's writer does, so that a reader of the
// mmap backend can tell that the writer is alive. The lock goes with the
// file's Close, or the process. Other file systems have no such lock.
func lockWriter(f afero.File) {
	if osf, ok := f.(*os.File); ok {
		syscall.Flock(int(osf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) // a fresh exclusive file: nobody else holds it
	}
}
