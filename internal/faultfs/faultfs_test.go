package faultfs_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"syscall"
	"testing"

	"github.com/spf13/afero"
	"github.com/spf13/afero/mem"
	"go.uber.org/multierr"

	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/internal/faultfs"
	"github.com/kekbit-go/kekbit/ports"
)

// failures runs ops operations through inj and returns the numbers of
// those that failed.
func failures(inj *faultfs.Injector, ops int) []int {
	var failed []int
	for n := 1; n <= ops; n++ {
		if inj.MaybeError(faultfs.OpStat, "x") != nil {
			failed = append(failed, n)
		}
	}
	return failed
}

func TestModes(t *testing.T) {
	for _, c := range []struct {
		n    int
		mode faultfs.Mode
		want []int
	}{
		{0, faultfs.Once, nil},
		{3, faultfs.Once, []int{3}},
		{3, faultfs.FromThenOn, []int{3, 4, 5}},
		{6, faultfs.FromThenOn, nil},
	} {
		inj := faultfs.New(c.n, c.mode)
		if got := failures(inj, 5); !slices.Equal(got, c.want) {
			t.Errorf("New(%d, %v): operations %v failed, want %v", c.n, c.mode, got, c.want)
		}
		if inj.Count() != 5 || len(inj.Injected()) != len(c.want) {
			t.Errorf("New(%d, %v): Count %d, %d injected", c.n, c.mode, inj.Count(), len(inj.Injected()))
		}
	}
	inj := faultfs.New(2, faultfs.FromThenOn)
	failures(inj, 2)
	inj.Stop()
	if got := failures(inj, 3); got != nil || inj.Count() != 5 {
		t.Errorf("after Stop: %v failed, Count %d", got, inj.Count())
	}
}

func TestOnlyAndWithError(t *testing.T) {
	inj := faultfs.New(2, faultfs.Once).WithError(syscall.ENOSPC).
		Only(func(op faultfs.Op, _ string) bool { return op == faultfs.OpFileWriteAt })
	fsys := faultfs.Wrap(afero.NewMemMapFs(), inj)
	f, err := fsys.Create("/f")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("a"), 0); err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteAt([]byte("b"), 1)
	var e *faultfs.Error
	if !errors.Is(err, syscall.ENOSPC) || !errors.Is(err, faultfs.ErrInjected) || !errors.As(err, &e) ||
		e.N != 2 || e.Op != faultfs.OpFileWriteAt || e.Path != "/f" {
		t.Fatalf("second WriteAt: %v (%+v)", err, e)
	}
	if err := f.Close(); err != nil || inj.Count() != 2 {
		t.Fatalf("Close: %v; %d operations counted, want the 2 WriteAt", err, inj.Count())
	}
}

func TestCloseReleasesAnyway(t *testing.T) {
	memFs := afero.NewMemMapFs()
	inj := faultfs.New(2, faultfs.Once)
	f, err := faultfs.Wrap(memFs, inj).OpenFile("/f", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); !errors.Is(err, faultfs.ErrInjected) {
		t.Fatalf("Close: %v, want the injected error", err)
	}
	if _, err := f.WriteAt([]byte("x"), 0); !errors.Is(err, mem.ErrFileClosed) {
		t.Fatalf("WriteAt after the failed Close: %v, want the file closed", err)
	}

	st := memory.New(64)
	ws := faultfs.WrapStorage(st, faultfs.New(1, faultfs.Once), "s")
	if err := ws.Close(); !errors.Is(err, faultfs.ErrInjected) {
		t.Fatalf("Storage.Close: %v", err)
	}
	if _, err := st.LoadUint64(0); !errors.Is(err, ports.ErrStorageClosed) {
		t.Fatalf("storage after the failed Close: %v, want it closed", err)
	}
}

func TestVolumeHidesAddressable(t *testing.T) {
	inj := faultfs.New(0, faultfs.Once)
	vol := faultfs.WrapVolume(memory.NewVolume(), inj)
	var seen ports.Storage
	st, err := vol.Create(1, 64, func(st ports.Storage) error { seen = st; return st.StoreUint64(0, 7) })
	if err != nil || st != seen {
		t.Fatalf("Create = %v, %v; init saw %v", st, err, seen)
	}
	r, err := vol.Open(1)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []ports.Storage{st, r} {
		if _, ok := s.(ports.Addressable); ok {
			t.Errorf("%T is addressable", s)
		}
	}
	if v, err := r.LoadUint64(0); v != 7 || err != nil || inj.Count() != 2 {
		t.Fatalf("LoadUint64 = %d, %v; %d operations", v, err, inj.Count())
	}
}

func TestFind(t *testing.T) {
	inj := faultfs.New(1, faultfs.FromThenOn)
	a, b := inj.MaybeError(faultfs.OpStat, "a"), inj.MaybeError(faultfs.OpStat, "b")
	err := fmt.Errorf("outer: %w", multierr.Combine(fmt.Errorf("x: %w", a), errors.Join(fs.ErrClosed, b)))
	got := faultfs.Find(err)
	if len(got) != 2 || error(got[0]) != a || error(got[1]) != b {
		t.Fatalf("Find = %v, want [%v %v]", got, a, b)
	}
}
