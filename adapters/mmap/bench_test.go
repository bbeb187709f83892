package mmap_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/ports"
	"github.com/kekbit-go/kekbit/ports/portbench"
)

// BenchmarkMmap runs the shared benchmarks on channel files mapped from
// /dev/shm (RAM), or from the temporary folder where there is none.
func BenchmarkMmap(b *testing.B) {
	dir := b.TempDir()
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "kekbit-bench-"); err == nil {
			dir = d
			b.Cleanup(func() { os.RemoveAll(d) })
		}
	}
	n := 0
	portbench.Run(b, func(b *testing.B, size int64) (ports.Storage, func() ports.Storage) {
		n++
		path := filepath.Join(dir, fmt.Sprintf("%d.kekbit", n))
		w, err := mmap.CreateFile(path, size, func(ports.Storage) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { w.Close(); os.Remove(path) })
		return w, func() ports.Storage {
			r, err := mmap.OpenFile(path)
			if err != nil {
				b.Fatal(err)
			}
			return r
		}
	})
}
