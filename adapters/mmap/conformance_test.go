//go:build linux

package mmap_test

import (
	"testing"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/ports"
	"github.com/kekbit-go/kekbit/ports/porttest"
)

func TestConformance(t *testing.T) {
	porttest.Run(t, porttest.Harness{
		NewVolume:    func(t *testing.T) ports.Volume { return mmap.NewVolume(t.TempDir()) },
		ReadOnlyOpen: true,
	})
}
