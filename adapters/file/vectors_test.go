package file_test

import (
	"testing"

	"github.com/spf13/afero"

	"github.com/kekbit-go/kekbit/adapters/file"
	"github.com/kekbit-go/kekbit/internal/vectortest"
	"github.com/kekbit-go/kekbit/ports"
)

// TestVectors opens every channel the Rust crate wrote, from its own folder
// on disk (read-only), through Volume.Open and OpenFile on OsFs, and reads
// each exactly as the sidecar says.
func TestVectors(t *testing.T) {
	fsys := afero.NewOsFs()
	vectortest.CheckBackend(t, vectortest.Backend{
		Volume:   func(root string) ports.Volume { return file.NewVolume(fsys, root) },
		Path:     func(root string, id uint64) string { return file.NewVolume(fsys, root).Path(id) },
		OpenFile: func(path string) (ports.Storage, error) { return file.OpenFile(fsys, path) },
	})
}
