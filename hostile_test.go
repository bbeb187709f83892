//go:build linux

package kekbit_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit"
	"github.com/kekbit-go/kekbit/codecs"
)

// TestTryShmReaderFIFO: a FIFO at a channel's path makes ShmReader and
// TryShmReader return ErrNotRegular at once, the latter well before its
// context is done, instead of blocking in open(2).
func TestTryShmReaderFIFO(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, "0000_0000", "0000_0009.kekbit")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 2)
	go func() {
		_, err := kekbit.TryShmReader(ctx, root, 9)
		done <- err
		_, err = kekbit.ShmReader(root, 9)
		done <- err
	}()
	for _, name := range []string{"TryShmReader", "ShmReader"} {
		select {
		case err := <-done:
			if !errors.Is(err, kekbit.ErrNotRegular) {
				t.Errorf("%s on a FIFO: %v, want ErrNotRegular", name, err)
			}
		case <-time.After(time.Second):
			t.Fatalf("%s on a FIFO: no answer after a second", name)
		}
	}
}

// TestShmWriterFolderSymlink: ShmWriter refuses a root whose channel
// folder is a planted symbolic link (ErrSymlink) and creates nothing where
// it points.
func TestShmWriterFolderSymlink(t *testing.T) {
	root, elsewhere := t.TempDir(), t.TempDir()
	if err := os.Symlink(elsewhere, filepath.Join(root, "0000_0001")); err != nil {
		t.Fatal(err)
	}
	h, err := kekbit.NewHeader(kekbit.Hints{ChannelID: 0x1_0000_0001, Capacity: 1 << 14, MaxMsgLen: 64, Timeout: 1000, TickUnit: kekbit.Millis})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kekbit.ShmWriter(root, h, codecs.Raw{}); !errors.Is(err, kekbit.ErrSymlink) {
		t.Errorf("ShmWriter through a folder link: %v, want ErrSymlink", err)
	}
	if names, _ := os.ReadDir(elsewhere); len(names) != 0 {
		t.Errorf("ShmWriter made %v where the link points", names)
	}
}
