package kekbit_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/kekbit-go/kekbit"
	"github.com/kekbit-go/kekbit/adapters/mmap"
)

// TestRemoveAbandonedSparesACreatorAtWork: a fresh lock file without its
// channel file is a creator at work, not debris.
func TestRemoveAbandonedSparesACreatorAtWork(t *testing.T) {
	root := t.TempDir()
	lock := mmap.LockPath(mmap.ChannelPath(root, 9))
	if err := os.MkdirAll(filepath.Dir(lock), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lock, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := kekbit.RemoveAbandoned(mmap.NewVolume(root), 9); !errors.Is(err, kekbit.ErrChannelNotReady) {
		t.Fatalf("fresh lock file: %v", err)
	}
	if _, err := os.Stat(lock); err != nil {
		t.Fatalf("the lock file went: %v", err)
	}
	if err := kekbit.RemoveAbandoned(mmap.NewVolume(root), 10); !errors.Is(err, kekbit.ErrChannelNotFound) {
		t.Fatalf("nothing there: %v", err)
	}
}
