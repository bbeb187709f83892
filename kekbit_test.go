package kekbit_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/kekbit-go/kekbit"
	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/internal/layout"
	"github.com/kekbit-go/kekbit/internal/testdir"
)

// TestRemoveAbandonedSparesACreatorAtWork: a lock file whose creator's
// lock is held is a creator at work, not debris; once the lock is free
// (the creator died), the lock file is removed at once, whatever its age.
func TestRemoveAbandonedSparesACreatorAtWork(t *testing.T) {
	root := testdir.New(t)
	lock := mmap.LockPath(mmap.ChannelPath(root, 9))
	if err := os.MkdirAll(filepath.Dir(lock), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(lock)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := (layout.OSFile{File: f}).TryLock(); err != nil {
		t.Fatalf("flock: %v", err)
	}
	if err := kekbit.RemoveAbandoned(mmap.NewVolume(root), 9); !errors.Is(err, kekbit.ErrChannelNotReady) {
		t.Fatalf("lock file of a creator at work: %v", err)
	}
	if _, err := os.Stat(lock); err != nil {
		t.Fatalf("the lock file went: %v", err)
	}
	f.Close() // the creator dies
	if err := kekbit.RemoveAbandoned(mmap.NewVolume(root), 9); err != nil {
		t.Fatalf("lock file of a dead creator: %v", err)
	}
	if _, err := os.Stat(lock); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the lock file is still there: %v", err)
	}
	if err := kekbit.RemoveAbandoned(mmap.NewVolume(root), 10); !errors.Is(err, kekbit.ErrChannelNotFound) {
		t.Fatalf("nothing there: %v", err)
	}
}
