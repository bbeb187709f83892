package vectortest

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/ports"
)

// Backend is how a file-based backend opens the crate's channels: a volume
// rooted at the crate's channel folder (Dir()/channels), the path it gives
// a channel, and an open of any channel file by path.
type Backend struct {
	Volume   func(root string) ports.Volume
	Path     func(root string, id uint64) string
	OpenFile func(path string) (ports.Storage, error)
}

// CheckBackend opens every vector from the crate's own folder through the
// backend's Volume.Open, and each flat vector file through its OpenFile,
// and reads each exactly as Expect says; the paths must be the crate's and
// List must give every id. The files are read-only on disk, so this also
// shows that a reader needs no write permission.
func CheckBackend(t *testing.T, b Backend) {
	vs, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "channels")
	vol := b.Volume(root)
	for _, v := range vs {
		id := v.Side.Header.ChannelID
		t.Run(v.Name, func(t *testing.T) {
			path := b.Path(root, id)
			if want := filepath.Join(dir, filepath.FromSlash(v.Side.NativePath)); path != want {
				t.Fatalf("path of %#x = %s, the crate wrote %s", id, path, want)
			}
			if img, err := os.ReadFile(path); err != nil || !bytes.Equal(img, v.Image) {
				t.Fatalf("%s differs from %s (%v)", path, v.Path, err)
			}
			t.Run("Volume.Open", func(t *testing.T) {
				st, err := vol.Open(id)
				if err != nil {
					t.Fatal(err)
				}
				CheckStorage(t, v, st)
			})
			t.Run("OpenFile", func(t *testing.T) {
				st, err := b.OpenFile(v.Path)
				if err != nil {
					t.Fatal(err)
				}
				CheckStorage(t, v, st)
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

// CheckStorage reads a reader's storage of vector v (and closes it): its
// size is the file's, it refuses writes (fs.ErrPermission), and it reads
// as CheckHeader and CheckRead expect.
func CheckStorage(t *testing.T, v Vector, st ports.Storage) {
	t.Helper()
	if st.Size() != int64(len(v.Image)) {
		t.Fatalf("Size() = %d, file has %d bytes", st.Size(), len(v.Image))
	}
	if _, err := st.WriteAt([]byte{1}, 2048); !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("WriteAt on a reader's storage: %v, want an error matching fs.ErrPermission", err)
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
	CheckHeader(t, r.Header(), v)
	CheckRead(t, r, v)
}
