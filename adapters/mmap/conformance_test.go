//go:build linux

package mmap_test

import (
	"testing"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/internal/endtoend"
	"github.com/kekbit-go/kekbit/ports"
	"github.com/kekbit-go/kekbit/ports/porttest"
)

func TestConformance(t *testing.T) {
	newVolume := func(t *testing.T) ports.Volume { return mmap.NewVolume(t.TempDir()) }
	porttest.Run(t, porttest.Harness{
		NewVolume:    newVolume,
		ReadOnlyOpen: true,
	})
	endtoend.Run(t, newVolume)
}
