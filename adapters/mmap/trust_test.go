//go:build linux

package mmap_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/ports"
)

// noInit is an init that writes nothing.
func noInit(ports.Storage) error { return nil }

// untrusted checks that every operation of vol on channel id fails with
// ErrUntrusted naming folder and want (its owner and mode).
func untrusted(t *testing.T, vol *mmap.Volume, id uint64, folder string, want ...string) {
	t.Helper()
	for name, op := range map[string]func() error{
		"Create":          func() error { st, err := vol.Create(id, 1<<15, noInit); closeIf(st); return err },
		"Open":            func() error { st, err := vol.Open(id); closeIf(st); return err },
		"OpenForWrite":    func() error { st, err := vol.OpenForWrite(id); closeIf(st); return err },
		"RemoveAbandoned": func() error { return vol.RemoveAbandoned(id) },
		"List":            func() error { _, err := vol.List(); return err },
	} {
		err := op()
		if !errors.Is(err, mmap.ErrUntrusted) || !strings.Contains(err.Error(), folder+" ") {
			t.Errorf("%s: %v, want ErrUntrusted naming %s", name, err, folder)
			continue
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v does not say %q", name, err, w)
			}
		}
	}
}

func closeIf(st ports.Storage) {
	if st != nil {
		st.Close()
	}
}

// TestRootOwnedByAnotherUser: a root, or a channel folder, chowned to
// another user is refused by every operation, naming the folder, its owner
// and mode; WithSharedRoot accepts it.
func TestRootOwnedByAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("giving a folder to another user needs the superuser")
	}
	for _, which := range []string{"root", "channel folder"} {
		t.Run(which, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "r")
			vol := mmap.NewVolume(root)
			st, err := vol.Create(1, 1<<15, noInit)
			if err != nil {
				t.Fatal(err)
			}
			st.Close()
			folder := root
			if which == "channel folder" {
				folder = filepath.Dir(vol.Path(1))
			}
			if err := os.Chown(folder, 65534, 65534); err != nil {
				t.Fatal(err)
			}
			untrusted(t, vol, 1, folder, "owner uid 65534", "another user")
			shared := mmap.NewVolume(root, mmap.WithSharedRoot())
			r, err := shared.Open(1)
			if err != nil {
				t.Fatalf("WithSharedRoot: %v", err)
			}
			r.Close()
		})
	}
}

// TestRootWritableByOthers: a root writable by everyone without the sticky
// bit is refused even WithSharedRoot; one writable by its group only
// WithSharedRoot; one with the sticky bit is accepted.
func TestRootWritableByOthers(t *testing.T) {
	root := filepath.Join(t.TempDir(), "r")
	vol, shared := mmap.NewVolume(root), mmap.NewVolume(root, mmap.WithSharedRoot())
	st, err := vol.Create(1, 1<<15, noInit)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if fi, err := os.Stat(root); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("the root Create made: %v, %v; want mode 0700", fi.Mode(), err)
	}
	chmod := func(mode os.FileMode) {
		t.Helper()
		if err := os.Chmod(root, mode); err != nil {
			t.Fatal(err)
		}
	}
	chmod(0o777)
	untrusted(t, vol, 1, root, "mode 0777", "without the sticky bit")
	untrusted(t, shared, 1, root, "mode 0777")
	chmod(0o770)
	untrusted(t, vol, 1, root, "mode 0770", "group")
	if r, err := shared.Open(1); err != nil {
		t.Errorf("WithSharedRoot, group-writable root: %v", err)
	} else {
		r.Close()
	}
	chmod(0o777 | os.ModeSticky)
	if r, err := vol.Open(1); err != nil {
		t.Errorf("a root writable by all with the sticky bit: %v", err)
	} else {
		r.Close()
	}
}

// TestSharedRootFolders: WithSharedRoot makes a missing root and its
// channel folders 0775, whatever the umask.
func TestSharedRootFolders(t *testing.T) {
	defer syscall.Umask(syscall.Umask(0o022))
	root := filepath.Join(t.TempDir(), "r")
	st, err := mmap.NewVolume(root, mmap.WithSharedRoot()).Create(1, 1<<15, noInit)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	for _, dir := range []string{root, filepath.Dir(mmap.ChannelPath(root, 1))} {
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm()&0o070 == 0 {
			t.Errorf("%s: %v, %v; want it group-accessible", dir, fi.Mode(), err)
		}
	}
	for _, dir := range []string{root, filepath.Dir(mmap.ChannelPath(root, 1))} {
		if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o775 {
			t.Errorf("%s: mode %v, want 0775", dir, fi.Mode())
		}
	}
}

// TestRootPlantedLink: a root that another user planted as a symbolic
// link (where a victim's root is to be made, in a folder everyone may
// write) is refused with ErrSymlink, and nothing is made where it points;
// a link of this user's own is followed, a path of the caller's.
func TestRootPlantedLink(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("a link of another user's needs the superuser to make")
	}
	base := t.TempDir()
	target := filepath.Join(base, "victims-folder")
	if err := os.Mkdir(target, 0o700); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(base, "kekbit-root")
	if err := os.Symlink(target, root); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(root, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	vol := mmap.NewVolume(root)
	if _, err := vol.Create(1, 1<<15, noInit); !errors.Is(err, mmap.ErrSymlink) {
		t.Fatalf("Create through another user's link: %v, want ErrSymlink", err)
	}
	if _, err := vol.Open(1); !errors.Is(err, mmap.ErrSymlink) && !errors.Is(err, ports.ErrChannelNotFound) {
		t.Fatalf("Open through another user's link: %v", err)
	}
	if entries, _ := os.ReadDir(target); len(entries) != 0 {
		t.Fatalf("the link's target got %d entries", len(entries))
	}
	// The same link, this user's: followed.
	if err := os.Lchown(root, os.Geteuid(), os.Getegid()); err != nil {
		t.Fatal(err)
	}
	st, err := vol.Create(1, 1<<15, noInit)
	if err != nil {
		t.Fatalf("Create through this user's own link: %v", err)
	}
	st.Close()
}
