package domain_test

import (
	"testing"

	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/ports"
	"github.com/kekbit-go/kekbit/ports/portbench"
)

// BenchmarkMemory runs the shared benchmarks on the memory backend.
func BenchmarkMemory(b *testing.B) {
	portbench.Run(b, func(b *testing.B, size int64) (ports.Storage, func() ports.Storage) {
		st := memory.New(size)
		return st.Share(), func() ports.Storage { return st.Share() }
	})
}
