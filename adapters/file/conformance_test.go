package file_test

import (
	"testing"

	"github.com/spf13/afero"

	"github.com/kekbit-go/kekbit/adapters/file"
	"github.com/kekbit-go/kekbit/ports"
	"github.com/kekbit-go/kekbit/ports/porttest"
)

func TestConformanceMemMapFs(t *testing.T) {
	porttest.Run(t, porttest.Harness{
		NewVolume:    func(*testing.T) ports.Volume { return file.NewVolume(afero.NewMemMapFs(), "/kekbit") },
		ReadOnlyOpen: true,
	})
}

func TestConformanceOsFs(t *testing.T) {
	porttest.Run(t, porttest.Harness{
		NewVolume:    func(t *testing.T) ports.Volume { return file.NewVolume(afero.NewOsFs(), t.TempDir()) },
		ReadOnlyOpen: true,
	})
}
