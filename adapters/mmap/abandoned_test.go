package mmap_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/internal/channeltest"
	"github.com/kekbit-go/kekbit/internal/testdir"
	"github.com/kekbit-go/kekbit/ports"
)

// files is a volume in a temporary folder, for channeltest.
func files(t *testing.T) channeltest.Files {
	vol := mmap.NewVolume(testdir.New(t))
	return channeltest.Files{Volume: vol, Path: vol.Path, WriteFile: func(path string) error {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		return os.WriteFile(path, nil, 0o644)
	}}
}

// TestErrors: a Volume's errors are *ports.ChannelError naming the channel
// file once.
func TestErrors(t *testing.T) { channeltest.CheckErrors(t, files(t)) }

// TestFileErrors: the functions that take a path name it once.
func TestFileErrors(t *testing.T) {
	dir := testdir.New(t)
	path := filepath.Join(dir, "journal.kekbit")
	once := func(what string, err, want error) {
		t.Helper()
		if !errors.Is(err, want) || strings.Count(err.Error(), path) != 1 {
			t.Errorf("%s: %v, want %v naming %s once", what, err, want, path)
		}
	}
	_, err := mmap.OpenFile(path)
	once("OpenFile of a missing file", err, ports.ErrChannelNotFound)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("OpenFile of a missing file: %v, want os.ErrNotExist too", err)
	}
	t.Logf("not found: %v", err)
	st, err := mmap.CreateFile(path, 1<<14, func(ports.Storage) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, err = mmap.CreateFile(path, 1<<14, func(ports.Storage) error { return nil })
	once("CreateFile of a file that exists", err, ports.ErrChannelExists)
	_, err = mmap.OpenForWrite(path)
	once("OpenForWrite while the writer is alive", err, ports.ErrWriterAlive)
	if err := os.WriteFile(mmap.LockPath(path), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = mmap.OpenForWrite(path)
	once("OpenForWrite with a lock file", err, ports.ErrChannelNotReady)
	t.Logf("not ready: %v", err)
}

// TestRemoveAbandoned: RemoveAbandoned refuses a live writer and a creator
// at work, and removes what a writer or a creator left.
func TestRemoveAbandoned(t *testing.T) { channeltest.CheckRemoveAbandoned(t, files(t)) }

// TestKilledCreator: what a creator killed in the middle of its Create
// left is removed at once by RemoveAbandoned.
func TestKilledCreator(t *testing.T) { channeltest.KilledCreator{NewVolume: newVolume}.Run(t) }
