//go:build linux || darwin || freebsd

package mmap_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/ports"
)

// BenchmarkPretouch measures what creating a 64 MiB channel costs with
// each way of pre-faulting its pages (none, madvise POPULATE_WRITE, a
// write to every page), and then what writing 8 bytes into every 128-byte
// slot of it costs (the writer's first touch of each page). The sum is
// what a writer pays either way; pretouching moves it out of the hot path.
func BenchmarkPretouch(b *testing.B) {
	const size = 64 << 20
	dir := shmDir(b)
	for _, way := range []string{"none", "madvise", "touch"} {
		b.Run("create/"+way, func(b *testing.B) {
			for i := range b.N {
				st := create(b, dir, way, fmt.Sprint(way, i), size)
				b.StopTimer()
				st.Close()
				b.StartTimer()
			}
			b.SetBytes(size)
		})
		b.Run("write-after/"+way, func(b *testing.B) {
			for i := range b.N {
				b.StopTimer()
				st := create(b, dir, way, fmt.Sprint("w", way, i), size)
				b.StartTimer()
				m := st.Bytes()
				for off := 0; off < size; off += 128 {
					m[off] = 1
				}
				b.StopTimer()
				st.Close()
				b.StartTimer()
			}
			b.SetBytes(size)
		})
	}
}

func create(b *testing.B, dir, way, name string, size int64) *mmap.Storage {
	path := filepath.Join(dir, name+".kekbit")
	st, err := mmap.CreateFile(path, size, func(st ports.Storage) error {
		switch way {
		case "madvise":
			return st.(*mmap.Storage).Pretouch()
		case "touch":
			mmap.TouchPages(st.(*mmap.Storage).Words(), true)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	os.Remove(path) // the mapping lives on; the memory goes with Close
	return st
}

// shmDir returns a fresh folder on tmpfs (/dev/shm), where a page a
// mapping touches costs memory, or a temporary folder where there is none.
func shmDir(b testing.TB) string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "kekbit-bench-"); err == nil {
			b.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
	}
	return b.TempDir()
}
