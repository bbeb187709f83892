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
