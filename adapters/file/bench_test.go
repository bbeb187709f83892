package file_test

import (
	"fmt"
	"testing"

	"github.com/spf13/afero"

	"github.com/kekbit-go/kekbit/adapters/file"
	"github.com/kekbit-go/kekbit/ports"
	"github.com/kekbit-go/kekbit/ports/portbench"
)

// BenchmarkFile runs the shared benchmarks on channel files on the disk
// (a temporary folder, through the page cache: never flushed) and in
// afero's memory file system.
func BenchmarkFile(b *testing.B) {
	b.Run("OsFs", func(b *testing.B) { benchmark(b, afero.NewOsFs(), b.TempDir()) })
	b.Run("MemMapFs", func(b *testing.B) { benchmark(b, afero.NewMemMapFs(), "/bench") })
}

func benchmark(b *testing.B, fsys afero.Fs, dir string) {
	if err := fsys.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	n := 0
	portbench.Run(b, func(b *testing.B, size int64) (ports.Storage, func() ports.Storage) {
		n++
		path := fmt.Sprintf("%s/%d.kekbit", dir, n)
		w, err := file.CreateFile(fsys, path, size, func(ports.Storage) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { w.Close(); fsys.Remove(path) })
		return w, func() ports.Storage {
			r, err := file.OpenFile(fsys, path)
			if err != nil {
				b.Fatal(err)
			}
			return r
		}
	})
}
