package layout

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/kekbit-go/kekbit/internal/testdir"
)

// TestCreateLockedDiskFull: on a file system with no block left (a small
// tmpfs, filled), writing the creator's mark fails; the lock file's
// creation fails with ENOSPC and leaves nothing: no lock file, no
// temporary file.
func TestCreateLockedDiskFull(t *testing.T) {
	dir := testdir.Tmpfs(t, "size=64k")
	filler, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	page := make([]byte, 4096)
	for {
		if _, err := filler.Write(page); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	filler.Close()
	bornLockedModes(t, func(t *testing.T) {
		lockPath := filepath.Join(dir, "0000_0009.lock")
		if lock, err := makeLockFile[OSFile](OSFS{Root: dir}, lockPath); !errors.Is(err, syscall.ENOSPC) {
			if err == nil {
				lock.Close()
			}
			t.Fatalf("makeLockFile on a full disk: %v, want ENOSPC", err)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 1 || ents[0].Name() != "filler" {
			t.Fatalf("the folder holds %v; want the filler alone", ents)
		}
	})
}
