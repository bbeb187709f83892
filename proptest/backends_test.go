package proptest

import (
	"os"
	"testing"

	"github.com/spf13/afero"

	"github.com/kekbit-go/kekbit/adapters/file"
	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/ports"
)

// memoryBackend reads a channel's image through a new handle on it.
func memoryBackend() Backend {
	return Backend{Name: "memory", New: func(string) (ports.Volume, func(uint64) ([]byte, error)) {
		vol := memory.NewVolume()
		return vol, func(id uint64) ([]byte, error) {
			st, err := vol.Open(id)
			if err != nil {
				return nil, err
			}
			return st.(*memory.Storage).Image(), nil
		}
	}}
}

func mmapBackend() Backend {
	return Backend{Name: "mmap", New: func(dir string) (ports.Volume, func(uint64) ([]byte, error)) {
		vol := mmap.NewVolume(dir)
		return vol, func(id uint64) ([]byte, error) { return os.ReadFile(vol.Path(id)) }
	}}
}

// fileBackend runs the file backend on a file system from newFs: a fresh
// MemMapFs per case keeps the channel in memory (dir is only a name there),
// OsFs in dir on disk.
func fileBackend(name string, newFs func() afero.Fs) Backend {
	return Backend{Name: name, New: func(dir string) (ports.Volume, func(uint64) ([]byte, error)) {
		fsys := newFs()
		vol := file.NewVolume(fsys, dir)
		return vol, func(id uint64) ([]byte, error) { return afero.ReadFile(fsys, vol.Path(id)) }
	}}
}

func TestBackendsAgreeWithModel(t *testing.T) {
	Run(t, []Backend{
		memoryBackend(),
		mmapBackend(),
		fileBackend("file on MemMapFs", afero.NewMemMapFs),
		fileBackend("file on OsFs", afero.NewOsFs),
	})
}
