//go:build linux

package reliability_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/spf13/afero"
	"golang.org/x/sys/unix"

	"github.com/kekbit-go/kekbit/adapters/file"
	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/internal/faultfs"
	"github.com/kekbit-go/kekbit/internal/testdir"
	"github.com/kekbit-go/kekbit/ports"
)

// fullHeader returns the header of channel id with the given capacity.
func fullHeader(t *testing.T, id uint64, capacity uint32) domain.Header {
	t.Helper()
	h, err := domain.NewHeader(domain.Hints{WriterID: 5, ChannelID: id, Capacity: capacity,
		MaxMsgLen: 100, Timeout: 1 << 40, TickUnit: domain.Nanos})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// fsUsage is what is free on a file system: blocks and inodes.
type fsUsage struct{ blocks, inodes uint64 }

func freeOn(t *testing.T, dir string) fsUsage {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return fsUsage{st.Bfree, st.Ffree}
}

// diskBackends are the backends that keep channels in files on the disk.
var diskBackends = []struct {
	name string
	vol  func(root string) ports.Volume
}{
	{"mmap", func(root string) ports.Volume { return mmap.NewVolume(root) }},
	{"file", func(root string) ports.Volume { return file.NewVolume(afero.NewOsFs(), root) }},
}

// assertNoChannel fails unless channel id is unknown to vol: not listed,
// not found by Open.
func assertNoChannel(t *testing.T, vol ports.Volume, id uint64) {
	t.Helper()
	if ids, err := vol.List(); err != nil || slices.Contains(ids, id) {
		t.Errorf("List() = %#x, %v after a failed create of %#x", ids, err, id)
	}
	if _, err := domain.Open(vol, id); !errors.Is(err, ports.ErrChannelNotFound) {
		t.Errorf("Open after a failed create: %v, want ErrChannelNotFound", err)
	}
}

// assertEmpty fails if the folder dir holds anything.
func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("left behind: %s", filepath.Join(dir, e.Name()))
	}
}

// TestDiskFullTmpfs fills a small tmpfs at each step of Create, for real:
// the blocks of the channel file (fallocate for mmap, the zeros written for
// file), the inode of the folder, of the lock file, of the channel file.
// Create fails with an error wrapping syscall.ENOSPC and leaves nothing: no
// file, no folder, every block and inode free again.
func TestDiskFullTmpfs(t *testing.T) {
	const id = 0x0000_00d1_0000_0001
	for _, b := range diskBackends {
		for _, c := range []struct {
			step, opts string
			capacity   uint32
		}{
			{"blocks", "size=64k", 128 << 10},       // the file takes 129 KiB
			{"folder", "size=1m,nr_inodes=1", 0},    // the root takes the only inode
			{"lock file", "size=1m,nr_inodes=2", 0}, // then the channel's folder
			{"channel file", "size=1m,nr_inodes=3", 0},
		} {
			t.Run(b.name+"/"+c.step, func(t *testing.T) {
				root := testdir.Tmpfs(t, c.opts)
				vol := b.vol(root)
				free := freeOn(t, root)
				_, err := domain.Create(vol, fullHeader(t, id, c.capacity), codecs.Raw{})
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("Create on a tmpfs with -o %s: %v, want ENOSPC", c.opts, err)
				}
				assertEmpty(t, root)
				if now := freeOn(t, root); now != free {
					t.Errorf("free blocks and inodes %v before Create, %v after", free, now)
				}
				assertNoChannel(t, vol, id)
				if c.step != "blocks" {
					return
				}
				// The space is free again: a channel that fits works.
				w, err := domain.Create(vol, fullHeader(t, id, domain.MinCapacity), codecs.Raw{})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := w.Write([]byte("fits")); err != nil {
					t.Fatal(err)
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// TestDiskFullKeepsOthersFolder: a Create that fails for want of space
// removes the folder it made, but not one that was there before it, nor
// the channel in it.
func TestDiskFullKeepsOthersFolder(t *testing.T) {
	const first, second = 0x0000_00d2_0000_0001, 0x0000_00d2_0000_0002 // one folder
	for _, b := range diskBackends {
		t.Run(b.name, func(t *testing.T) {
			root := testdir.Tmpfs(t, "size=64k")
			vol := b.vol(root)
			w, err := domain.Create(vol, fullHeader(t, first, domain.MinCapacity), codecs.Raw{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write([]byte("kept")); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			free := freeOn(t, root)
			if _, err := domain.Create(vol, fullHeader(t, second, 128<<10), codecs.Raw{}); !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("Create of a channel too large: %v, want ENOSPC", err)
			}
			if now := freeOn(t, root); now != free {
				t.Errorf("free blocks and inodes %v before Create, %v after", free, now)
			}
			assertNoChannel(t, vol, second)
			path := mmap.ChannelPath(root, first)
			entries, err := os.ReadDir(filepath.Dir(path))
			if err != nil || len(entries) != 1 || entries[0].Name() != filepath.Base(path) {
				t.Fatalf("the folder of %#x holds %v (%v), want only its channel", uint64(first), entries, err)
			}
			r, err := domain.Open(vol, first)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			var got []string
			_, err = r.Read(func(rec domain.Record) error { p := rec.Payload; got = append(got, string(p)); return nil }, 0)
			if !errors.Is(err, domain.ErrClosed) || !slices.Equal(got, []string{"kept"}) {
				t.Fatalf("the first channel reads %q, %v", got, err)
			}
		})
	}
}

// TestDiskFullInjected injects ENOSPC into the file backend with a
// faultfs.Fs, on MemMapFs and on the disk: at every write (the first is
// the zeros that reserve the file's blocks), and in turn at each operation
// of Create (the folder, the lock file, the channel file, the zeros, the
// header, the sync, the removal of the lock file). Each time Create fails
// with an error wrapping ENOSPC and leaves nothing under the root.
func TestDiskFullInjected(t *testing.T) {
	const id = 0x0000_00d3_0000_0001
	h := fullHeader(t, id, domain.MinCapacity)
	for _, fsName := range []string{"MemMapFs", "OsFs"} {
		newFs := func(t *testing.T) (afero.Fs, string) {
			if fsName == "OsFs" {
				return afero.NewOsFs(), filepath.Join(t.TempDir(), "root")
			}
			return afero.NewMemMapFs(), "/root"
		}
		// check creates the channel with inj failing operations, and checks
		// the error and what is left.
		check := func(t *testing.T, inj *faultfs.Injector) {
			t.Helper()
			fsys, root := newFs(t)
			vol := file.NewVolume(faultfs.Wrap(fsys, inj), root)
			_, err := domain.Create(vol, h, codecs.Raw{})
			if !errors.Is(err, syscall.ENOSPC) || !errors.Is(err, faultfs.ErrInjected) {
				t.Errorf("Create: %v, want the injected ENOSPC", err)
			}
			left, err := fsLeftovers(fsys, root)()
			if err != nil || len(left) > 0 {
				t.Errorf("left behind: %q (%v)", left, err)
			}
			assertNoChannel(t, file.NewVolume(fsys, root), id)
		}
		t.Run(fsName+"/every write", func(t *testing.T) {
			check(t, faultfs.New(1, faultfs.FromThenOn).WithError(syscall.ENOSPC).
				Only(func(op faultfs.Op, _ string) bool { return op == faultfs.OpFileWriteAt }))
		})
		t.Run(fsName+"/each operation", func(t *testing.T) {
			counter := faultfs.New(0, faultfs.Once)
			fsys, root := newFs(t)
			w, err := domain.Create(file.NewVolume(faultfs.Wrap(fsys, counter), root), h, codecs.Raw{})
			if err != nil {
				t.Fatal(err)
			}
			calls := counter.Calls() // those of Create
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			for _, c := range calls {
				t.Run(fmt.Sprintf("%d-%s", c.N, c.Op), func(t *testing.T) {
					check(t, faultfs.New(c.N, faultfs.Once).WithError(syscall.ENOSPC))
				})
			}
		})
	}
}

// folderThief is an afero.Fs that removes the folder dir just before the
// first lock file is created: what a failed Create of another channel,
// removing the folder it made, does to a Create that found it there.
type folderThief struct {
	afero.Fs
	dir  string
	done bool
}

func (f *folderThief) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	if !f.done && filepath.Ext(name) == mmap.LockExt {
		f.done = true
		if err := f.Fs.Remove(f.dir); err != nil {
			return nil, err
		}
	}
	return f.Fs.OpenFile(name, flag, perm)
}

// TestCreateWhileFolderRemoved: a failed Create removes the folder it made;
// a Create of another channel that found the folder there and is about to
// make its lock file in it tries again instead of failing with ENOENT.
// (Seen once in 600,000 pairs of concurrent failing creates on the mmap
// backend before Create tried again; made certain here with a file system
// that removes the folder at that moment.)
func TestCreateWhileFolderRemoved(t *testing.T) {
	const id = 0x0000_00d4_0000_0001
	root := t.TempDir()
	dir := filepath.Dir(mmap.ChannelPath(root, id))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	vol := file.NewVolume(&folderThief{Fs: afero.NewOsFs(), dir: dir}, root)
	w, err := domain.Create(vol, fullHeader(t, id, domain.MinCapacity), codecs.Raw{})
	if err != nil {
		t.Fatalf("Create while the folder is removed under it: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if ids, err := vol.List(); err != nil || !slices.Equal(ids, []uint64{id}) {
		t.Fatalf("List() = %#x, %v", ids, err)
	}
}
