package mmap_test

import (
	"testing"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/internal/channeltest"
	"github.com/kekbit-go/kekbit/ports"
)

func newVolume(root string) ports.Volume { return mmap.NewVolume(root) }

// TestHelperProcess is the writer process of TestCrossProcess.
func TestHelperProcess(t *testing.T) { channeltest.HelperProcess(t, newVolume) }

// TestCrossProcess follows a channel written live by another process: every
// record arrives whole and in order, the writer is seen alive while it
// runs, a second writer is refused meanwhile, and the writer is seen gone
// once it closed the channel or was killed without closing it.
func TestCrossProcess(t *testing.T) {
	alive := func(want bool) func(*testing.T, *domain.Reader) {
		return func(t *testing.T, r *domain.Reader) {
			if got, err := r.WriterAlive(); got != want || err != nil {
				t.Fatalf("WriterAlive() = %v, %v; want %v", got, err, want)
			}
		}
	}
	for _, kill := range []bool{false, true} {
		name := map[bool]string{false: "closed", true: "killed"}[kill]
		t.Run(name, func(t *testing.T) {
			channeltest.CrossProcess{NewVolume: newVolume, N: 20_000, Capacity: 2 << 20, Kill: kill,
				WhileWriting: alive(true), AfterEnd: alive(false)}.Run(t)
		})
	}
}
