package file_test

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/spf13/afero"

	"github.com/kekbit-go/kekbit/adapters/file"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/internal/vectortest"
	"github.com/kekbit-go/kekbit/ports"
)

// TestVectors opens every channel the Rust crate wrote, from its own folder
// on disk (read-only), through Volume.Open and OpenFile on OsFs, and reads
// each exactly as the sidecar says.
func TestVectors(t *testing.T) {
	vs, err := vectortest.Load()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := vectortest.Dir()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "channels")
	fsys := afero.NewOsFs()
	vol := file.NewVolume(fsys, root)
	for _, v := range vs {
		id := v.Side.Header.ChannelID
		t.Run(v.Name, func(t *testing.T) {
			if want := filepath.Join(dir, filepath.FromSlash(v.Side.NativePath)); vol.Path(id) != want {
				t.Fatalf("Path(%#x) = %s, the crate wrote %s", id, vol.Path(id), want)
			}
			t.Run("Volume.Open", func(t *testing.T) {
				st, err := vol.Open(id)
				if err != nil {
					t.Fatal(err)
				}
				checkVector(t, v, st)
			})
			t.Run("OpenFile", func(t *testing.T) {
				st, err := file.OpenFile(fsys, v.Path)
				if err != nil {
					t.Fatal(err)
				}
				checkVector(t, v, st)
			})
		})
	}
	t.Run("List", func(t *testing.T) {
		var want []uint64
		for _, v := range vs {
			want = append(want, v.Side.Header.ChannelID)
		}
		slices.Sort(want)
		if got, err := vol.List(); err != nil || !slices.Equal(got, want) {
			t.Fatalf("List() = %#x, %v; want %#x", got, err, want)
		}
	})
}

// checkVector reads st (which it closes) and compares with the vector's
// sidecar.
func checkVector(t *testing.T, v vectortest.Vector, st ports.Storage) {
	t.Helper()
	if st.Size() != int64(len(v.Image)) {
		t.Fatalf("Size() = %d, file has %d bytes", st.Size(), len(v.Image))
	}
	if _, err := st.WriteAt([]byte{1}, 2048); !errors.Is(err, file.ErrReadOnly) {
		t.Fatalf("WriteAt on a reader's storage: %v, want ErrReadOnly", err)
	}
	r, err := domain.NewReader(st)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	defer func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	}()
	vectortest.CheckHeader(t, r.Header(), v)
	vectortest.CheckRead(t, r, v)
}
