//go:build linux

package mmap_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/internal/vectortest"
	"github.com/kekbit-go/kekbit/ports"
)

// channelsRoot returns the crate's own channel folder among the vectors.
func channelsRoot(t *testing.T) string {
	t.Helper()
	dir, err := vectortest.Dir()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "channels")
}

// TestVectorsFromCrateLayout opens every vector from the crate's own
// folder through Volume.Open (and each flat vector file through OpenFile)
// and reads it exactly as domain/vectors_test.go's TestVectorsRead expects.
func TestVectorsFromCrateLayout(t *testing.T) {
	vs, err := vectortest.Load()
	if err != nil {
		t.Fatal(err)
	}
	root := channelsRoot(t)
	vol := mmap.NewVolume(root)
	for _, v := range vs {
		id := v.Side.Header.ChannelID
		t.Run(v.Name, func(t *testing.T) {
			path := mmap.ChannelPath(root, id)
			if want := filepath.Join(filepath.Dir(root), filepath.FromSlash(v.Side.NativePath)); path != want {
				t.Fatalf("ChannelPath(%#x) = %s, the crate wrote %s", id, path, want)
			}
			if img, err := os.ReadFile(path); err != nil || !bytes.Equal(img, v.Image) {
				t.Fatalf("%s differs from %s (%v)", path, v.Path, err)
			}
			t.Run("Volume.Open", func(t *testing.T) {
				st, err := vol.Open(id)
				if err != nil {
					t.Fatal(err)
				}
				checkVector(t, v, st)
			})
			t.Run("OpenFile", func(t *testing.T) {
				st, err := mmap.OpenFile(v.Path)
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
		got, err := vol.List()
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("List() = %#x, %v; want %#x", got, err, want)
		}
	})
}

// checkVector reads st (which it closes) and compares with the vector's
// sidecar as TestVectorsRead in domain does.
func checkVector(t *testing.T, v vectortest.Vector, st ports.Storage) {
	t.Helper()
	if st.Size() != int64(len(v.Image)) {
		t.Fatalf("Size() = %d, file has %d bytes", st.Size(), len(v.Image))
	}
	if _, err := st.WriteAt([]byte{1}, 2048); !errors.Is(err, mmap.ErrReadOnly) {
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
