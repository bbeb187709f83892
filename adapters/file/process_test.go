package file_test

import (
	"testing"

	"github.com/spf13/afero"

	"github.com/kekbit-go/kekbit/adapters/file"
	"github.com/kekbit-go/kekbit/internal/channeltest"
	"github.com/kekbit-go/kekbit/ports"
)

func newOsVolume(root string) ports.Volume { return file.NewVolume(afero.NewOsFs(), root) }

// TestHelperProcess is the writer process of TestCrossProcess.
func TestHelperProcess(t *testing.T) { channeltest.HelperProcess(t, newOsVolume) }

// TestCrossProcess follows, through OsFs, a channel another process writes
// through OsFs: every record arrives whole and in order (no torn length
// word, no payload missing behind its length word), a second writer is
// refused meanwhile, and the close mark ends the read.
func TestCrossProcess(t *testing.T) {
	channeltest.CrossProcess{NewVolume: newOsVolume, N: 50_000, Capacity: 4 << 20}.Run(t)
}
