package file_test

import (
	"testing"

	"github.com/spf13/afero"

	"github.com/kekbit-go/kekbit/adapters/file"
	"github.com/kekbit-go/kekbit/internal/endtoend"
	"github.com/kekbit-go/kekbit/ports"
	"github.com/kekbit-go/kekbit/ports/porttest"
)

func TestConformanceMemMapFs(t *testing.T) {
	conformance(t, func(*testing.T) ports.Volume { return file.NewVolume(afero.NewMemMapFs(), "/kekbit") })
}

func TestConformanceOsFs(t *testing.T) {
	conformance(t, func(t *testing.T) ports.Volume { return file.NewVolume(afero.NewOsFs(), t.TempDir()) })
}

func conformance(t *testing.T, newVolume func(*testing.T) ports.Volume) {
	porttest.Run(t, porttest.Harness{
		NewVolume:    newVolume,
		ReadOnlyOpen: true,
	})
	endtoend.Run(t, newVolume)
}
