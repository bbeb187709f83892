package endtoend_test

import (
	"slices"
	"testing"

	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/internal/endtoend"
	"github.com/kekbit-go/kekbit/ports"
	"github.com/kekbit-go/kekbit/ports/porttest"
)

func TestMemory(t *testing.T) {
	endtoend.Run(t, func(*testing.T) ports.Volume { return memory.NewVolume() })
}

// TestPorttestSizes checks that porttest, which does not import the
// domain, still checks storages of the size of the smallest channel file.
func TestPorttestSizes(t *testing.T) {
	if smallest := domain.FileSize(domain.MinCapacity); !slices.Contains(porttest.Sizes, smallest) {
		t.Errorf("porttest.Sizes = %d lacks the smallest channel file's size, %d", porttest.Sizes, smallest)
	}
}
