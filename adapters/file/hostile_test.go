//go:build linux

package file_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/spf13/afero"

	"github.com/kekbit-go/kekbit/adapters/file"
	"github.com/kekbit-go/kekbit/ports"
)

// TestOsFsRefusesWhatMmapRefuses: on afero.OsFs the file backend opens
// channel files as the mmap backend does: a FIFO is refused at once
// (ErrNotRegular), a planted folder link makes Create refuse (ErrSymlink)
// and create nothing where it points, and a root another user could
// write is refused (ErrUntrusted) unless WithSharedRoot.
func TestOsFsRefusesWhatMmapRefuses(t *testing.T) {
	fsys := afero.NewOsFs()
	root := filepath.Join(t.TempDir(), "r")
	vol := file.NewVolume(fsys, root)
	st, err := vol.Create(1, 1<<14, func(ports.Storage) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if fi, err := os.Stat(root); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("the root Create made: %v, %v; want 0700", fi.Mode(), err)
	}
	if err := syscall.Mkfifo(vol.Path(2), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := vol.Open(2); !errors.Is(err, file.ErrNotRegular) {
		t.Errorf("Open of a FIFO: %v, want ErrNotRegular", err)
	}
	elsewhere := t.TempDir()
	if err := os.Symlink(elsewhere, filepath.Join(root, "0000_0001")); err != nil {
		t.Fatal(err)
	}
	if _, err := vol.Create(0x1_0000_0001, 1<<14, func(ports.Storage) error { return nil }); !errors.Is(err, file.ErrSymlink) {
		t.Errorf("Create through a folder link: %v, want ErrSymlink", err)
	}
	if names, _ := os.ReadDir(elsewhere); len(names) != 0 {
		t.Errorf("Create made %v where the link points", names)
	}
	if err := os.Chmod(root, 0o770); err != nil {
		t.Fatal(err)
	}
	if _, err := vol.Open(1); !errors.Is(err, file.ErrUntrusted) {
		t.Errorf("Open in a group-writable root: %v, want ErrUntrusted", err)
	}
	r, err := file.NewVolume(fsys, root, file.WithSharedRoot()).Open(1)
	if err != nil {
		t.Fatalf("WithSharedRoot: %v", err)
	}
	r.Close()
}
