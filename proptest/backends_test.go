package proptest

import (
	"os"
	"testing"

	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/ports"
)

// memoryImages keeps each memory volume's writer storage reachable, so the
// test can read its image.
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

func TestBackendsAgreeWithModel(t *testing.T) {
	Run(t, []Backend{memoryBackend(), mmapBackend()})
}
