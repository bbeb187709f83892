package mmap_test

import (
	"runtime"
	"testing"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/internal/endtoend"
	"github.com/kekbit-go/kekbit/internal/testdir"
	"github.com/kekbit-go/kekbit/ports"
	"github.com/kekbit-go/kekbit/ports/porttest"
)

func TestConformance(t *testing.T) {
	newVolume := func(t *testing.T) ports.Volume { return mmap.NewVolume(testdir.New(t)) }
	porttest.Run(t, porttest.Harness{
		NewVolume:         newVolume,
		ReadOnlyOpen:      true,
		RemoveNeedsClosed: runtime.GOOS == "windows",
	})
	endtoend.Run(t, newVolume)
}
