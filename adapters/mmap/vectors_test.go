package mmap_test

import (
	"testing"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/internal/vectortest"
	"github.com/kekbit-go/kekbit/ports"
)

// TestVectorsFromCrateLayout opens every vector from the crate's own
// folder through Volume.Open (and each flat vector file through OpenFile)
// and reads it exactly as DESIGN.md says.
func TestVectorsFromCrateLayout(t *testing.T) {
	vectortest.CheckBackend(t, vectortest.Backend{
		Volume:   func(root string) ports.Volume { return mmap.NewVolume(root) },
		Path:     mmap.ChannelPath,
		OpenFile: func(path string) (ports.Storage, error) { return mmap.OpenFile(path) },
	})
}
