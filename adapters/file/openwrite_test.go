package file_test

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"strings"
	"testing"

	"github.com/spf13/afero"

	"github.com/kekbit-go/kekbit/adapters/file"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/internal/channeltest"
	"github.com/kekbit-go/kekbit/ports"
)

// files is vol for channeltest.
func files(fsys afero.Fs, vol *file.Volume) channeltest.Files {
	return channeltest.Files{Volume: vol, Path: vol.Path, WriteFile: func(p string) error {
		if err := fsys.MkdirAll(path.Dir(p), 0o755); err != nil {
			return err
		}
		return afero.WriteFile(fsys, p, nil, 0o644)
	}}
}

// TestErrors: a Volume's errors are *ports.ChannelError naming the channel
// file once.
func TestErrors(t *testing.T) {
	onEach(t, func(t *testing.T, fsys afero.Fs, root string) {
		channeltest.CheckErrors(t, files(fsys, file.NewVolume(fsys, root)))
	})
}

// TestFileErrors: the functions that take a path name it once.
func TestFileErrors(t *testing.T) {
	onEach(t, func(t *testing.T, fsys afero.Fs, root string) {
		if err := fsys.MkdirAll(root, 0o755); err != nil {
			t.Fatal(err)
		}
		p := root + "/journal.kekbit"
		once := func(what string, err, want error) {
			t.Helper()
			if !errors.Is(err, want) || strings.Count(err.Error(), p) != 1 {
				t.Errorf("%s: %v, want %v naming %s once", what, err, want, p)
			}
		}
		_, err := file.OpenFile(fsys, p)
		once("OpenFile of a missing file", err, ports.ErrChannelNotFound)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("OpenFile of a missing file: %v, want fs.ErrNotExist too", err)
		}
		st, err := file.CreateFile(fsys, p, 1<<14, func(ports.Storage) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		_, err = file.CreateFile(fsys, p, 1<<14, func(ports.Storage) error { return nil })
		once("CreateFile of a file that exists", err, ports.ErrChannelExists)
		_, err = file.OpenForWrite(fsys, p)
		once("OpenForWrite while the writer is alive", err, ports.ErrWriterAlive)
		if err := afero.WriteFile(fsys, file.LockPath(p), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = file.OpenForWrite(fsys, p)
		once("OpenForWrite with a lock file", err, ports.ErrChannelNotReady)
	})
}

// TestRemoveAbandoned: RemoveAbandoned refuses a live writer and a creator
// at work, and removes what a writer or a creator left.
func TestRemoveAbandoned(t *testing.T) {
	onEach(t, func(t *testing.T, fsys afero.Fs, root string) {
		channeltest.CheckRemoveAbandoned(t, files(fsys, file.NewVolume(fsys, root)))
	})
}

// TestKilledCreator: what a creator killed in the middle of its Create
// left on OsFs is removed at once by RemoveAbandoned.
func TestKilledCreator(t *testing.T) { channeltest.KilledCreator{NewVolume: newOsVolume}.Run(t) }

// TestOpenForWriteResumes: a writer whose storage went away without a
// close mark (as when its process dies) is carried on by a new writer,
// which OpenForWrite refuses while the old one holds the channel; readers
// see one channel.
func TestOpenForWriteResumes(t *testing.T) {
	onEach(t, func(t *testing.T, fsys afero.Fs, root string) {
		vol := file.NewVolume(fsys, root)
		h := channeltest.Header(t, 0x1_0000_0007, 16<<10)
		w, err := domain.Create(vol, h, codecs.Text{})
		if err != nil {
			t.Fatal(err)
		}
		w.Write("one")
		w.Write("two")
		end := w.WriteOffset()
		if _, err := vol.OpenForWrite(h.ChannelID); !errors.Is(err, ports.ErrWriterAlive) {
			t.Fatalf("OpenForWrite while the writer holds it: %v, want ErrWriterAlive", err)
		}
		if err := w.Release(); err != nil {
			t.Fatal(err)
		}
		st, err := vol.OpenForWrite(h.ChannelID)
		if err != nil {
			t.Fatal(err)
		}
		if !st.(*file.Storage).Writable() {
			t.Fatal("OpenForWrite's storage is not writable")
		}
		if _, err := vol.OpenForWrite(h.ChannelID); !errors.Is(err, ports.ErrWriterAlive) {
			t.Fatalf("second OpenForWrite: %v, want ErrWriterAlive", err)
		}
		if err := vol.RemoveAbandoned(h.ChannelID); !errors.Is(err, ports.ErrWriterAlive) {
			t.Fatalf("RemoveAbandoned while the new writer holds it: %v, want ErrWriterAlive", err)
		}
		w2, err := domain.Resume(st, codecs.Text{})
		if err != nil {
			t.Fatal(err)
		}
		if w2.WriteOffset() != end {
			t.Fatalf("resumed at %d, want %d", w2.WriteOffset(), end)
		}
		w2.Write("three")
		if err := w2.Close(); err != nil {
			t.Fatal(err)
		}
		r, err := domain.Open(vol, h.ChannelID)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		var got []string
		if _, err := r.Read(func(rec domain.Record) error { p := rec.Payload; got = append(got, string(p)); return nil }, 0); !errors.Is(err, domain.ErrClosed) ||
			strings.Join(got, " ") != "one two three" {
			t.Fatalf("read %q, %v", got, err)
		}
		if _, err := vol.OpenForWrite(404); !errors.Is(err, ports.ErrChannelNotFound) {
			t.Fatalf("OpenForWrite of a missing channel: %v", err)
		}
	})
}

// TestOpenForWriteAfterRemove: a channel removed while its writer holds it
// and made again is a new file, whose writer's lock is free (as flock's is,
// on MemMapFs too).
func TestOpenForWriteAfterRemove(t *testing.T) {
	onEach(t, func(t *testing.T, fsys afero.Fs, root string) {
		vol := file.NewVolume(fsys, root)
		old, err := vol.Create(5, 1<<14, func(ports.Storage) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		defer old.Close()
		if err := vol.Remove(5); err != nil {
			t.Fatal(err)
		}
		fresh, err := vol.Create(5, 1<<14, func(ports.Storage) error { return nil })
		if err != nil {
			t.Fatalf("Create after Remove, the old writer open: %v", err)
		}
		fresh.Close()
		st, err := vol.OpenForWrite(5)
		if err != nil {
			t.Fatalf("OpenForWrite of the new channel, the old writer open: %v", err)
		}
		st.Close()
	})
}

// removingFs removes the files it opens read-only right after opening
// them, as someone removing a channel while a reader opens it would.
type removingFs struct {
	afero.Fs
	name string
}

func (r removingFs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	f, err := r.Fs.OpenFile(name, flag, perm)
	if err == nil && flag == os.O_RDONLY && name == r.name {
		r.Fs.Remove(name)
	}
	return f, err
}

// TestOpenRemovedWhileOpening: a channel file removed between the open and
// the check is not handed out; one removed and made again neither.
func TestOpenRemovedWhileOpening(t *testing.T) {
	onEach(t, func(t *testing.T, fsys afero.Fs, root string) {
		vol := file.NewVolume(fsys, root)
		st, err := vol.Create(6, 1<<14, func(ports.Storage) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
		removing := file.NewVolume(removingFs{Fs: fsys, name: vol.Path(6)}, root)
		if st, err := removing.Open(6); !errors.Is(err, ports.ErrChannelNotFound) {
			if st != nil {
				st.Close()
			}
			t.Fatalf("Open of a channel removed while being opened: %v, want ErrChannelNotFound", err)
		} else {
			t.Log(err)
		}
	})
}
