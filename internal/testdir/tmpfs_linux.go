package testdir

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// Tmpfs returns a new folder with a tmpfs mounted on it with the mount
// options opts ("size=64k"), unmounted when the test ends: a file system
// small enough to fill. Mounting needs root (or CAP_SYS_ADMIN). Where it
// is refused, the test is skipped, except under .ci/run (KEKBIT_CI set),
// which runs as root and must run it: there it fails.
func Tmpfs(t testing.TB, opts string) string {
	t.Helper()
	dir := New(t)
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, opts); err != nil {
		if os.Getenv("KEKBIT_CI") != "" {
			t.Fatalf("testdir: cannot mount a tmpfs (-o %s): %v", opts, err)
		}
		t.Skipf("cannot mount a tmpfs (-o %s): %v (needs root)", opts, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			t.Errorf("testdir: unmounting %s: %v", dir, err)
		}
	})
	return dir
}
