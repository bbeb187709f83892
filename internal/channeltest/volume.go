package channeltest

import (
	"errors"
	"strings"
	"testing"

	"github.com/kekbit-go/kekbit/internal/layout"
	"github.com/kekbit-go/kekbit/ports"
)

// Files is a file-backed volume as the tests here see it: the volume, the
// path of a channel's file in it, and a way to put an empty file on its
// file system (a lock file, as a creator would make it), its folder made.
type Files struct {
	Volume    ports.Volume
	Path      func(id uint64) string
	WriteFile func(path string) error
}

// wantChannelError checks that err is a *ports.ChannelError of op on
// channel id, wrapping want, and that its message names the channel file's
// path exactly once.
func (f Files) wantChannelError(t *testing.T, what string, err error, op string, id uint64, want error) {
	t.Helper()
	path := f.Path(id)
	var ce *ports.ChannelError
	switch {
	case !errors.Is(err, want):
		t.Errorf("%s: %v, want %v", what, err, want)
	case !errors.As(err, &ce):
		t.Errorf("%s: %T %q is no *ports.ChannelError", what, err, err)
	case ce.Op != op || ce.ChannelID != id || ce.Path != path:
		t.Errorf("%s: Op %q, ChannelID %#x, Path %q; want %q, %#x, %q", what, ce.Op, ce.ChannelID, ce.Path, op, id, path)
	case strings.Count(err.Error(), path) != 1:
		t.Errorf("%s: %q names %s %d times, want once", what, err, path, strings.Count(err.Error(), path))
	}
}

// CheckErrors checks the errors of a not-found Open, a Create of a channel
// that exists, and an Open of a channel not ready: each is a
// *ports.ChannelError naming the operation, the channel and its path, the
// path once.
func CheckErrors(t *testing.T, f Files) {
	const id = 8
	_, err := f.Volume.Open(id)
	f.wantChannelError(t, "Open of a missing channel", err, "open", id, ports.ErrChannelNotFound)
	t.Logf("not found: %v", err)

	st, err := f.Volume.Create(id, 1<<14, func(ports.Storage) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, err = f.Volume.Create(id, 1<<14, func(ports.Storage) error { return nil })
	f.wantChannelError(t, "Create of a channel that exists", err, "create", id, ports.ErrChannelExists)
	t.Logf("exists: %v", err)

	// A creator at work on id+1: stopped in its init, its locks held.
	inInit, release, created := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		_, err := f.Volume.Create(id+1, 1<<14, func(ports.Storage) error {
			close(inInit)
			<-release
			return errors.New("the test is over")
		})
		created <- err
	}()
	<-inInit
	defer func() { close(release); <-created }()
	_, err = f.Volume.Create(id+1, 1<<14, func(ports.Storage) error { return nil })
	f.wantChannelError(t, "Create of a channel being created", err, "create", id+1, ports.ErrChannelExists)
	_, err = f.Volume.Open(id + 1)
	f.wantChannelError(t, "Open of a channel being created", err, "open", id+1, ports.ErrChannelNotReady)
	t.Logf("not ready: %v", err)
	if w, ok := f.Volume.(ports.WriteOpener); ok {
		_, err = w.OpenForWrite(id + 1)
		f.wantChannelError(t, "OpenForWrite of a channel being created", err, "open for write", id+1, ports.ErrChannelNotReady)
		_, err = w.OpenForWrite(id)
		f.wantChannelError(t, "OpenForWrite of a channel whose writer is alive", err, "open for write", id, ports.ErrWriterAlive)
	}
	f.wantChannelError(t, "Remove of a missing channel", f.Volume.Remove(id+2), "remove", id+2, ports.ErrChannelNotFound)
}

// CheckRemoveAbandoned checks RemoveAbandoned in one process: it refuses a
// channel whose writer holds it and one a creator is at work on (from init,
// which runs while the creator's locks are held), removes a closed one and
// a lock file left by a creator that holds no lock, and finds no channel
// where there is none.
func CheckRemoveAbandoned(t *testing.T, f Files) {
	vol := f.Volume
	r, ok := vol.(ports.AbandonedRemover)
	if !ok {
		t.Fatalf("%T is not a ports.AbandonedRemover", vol)
	}
	f.wantChannelError(t, "RemoveAbandoned of a missing channel", r.RemoveAbandoned(3), "remove abandoned", 3, ports.ErrChannelNotFound)

	st, err := vol.Create(3, 1<<14, func(ports.Storage) error {
		f.wantChannelError(t, "RemoveAbandoned during Create", r.RemoveAbandoned(3), "remove abandoned", 3, ports.ErrChannelNotReady)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	f.wantChannelError(t, "RemoveAbandoned while the writer holds it", r.RemoveAbandoned(3), "remove abandoned", 3, ports.ErrWriterAlive)
	if rst, err := vol.Open(3); err != nil {
		t.Errorf("RemoveAbandoned refused, yet the channel does not open: %v", err)
	} else {
		rst.Close()
	}
	st.Close() // the writer lets go
	if err := r.RemoveAbandoned(3); err != nil {
		t.Fatalf("RemoveAbandoned of a channel nobody holds: %v", err)
	}
	_, err = vol.Open(3)
	f.wantChannelError(t, "Open after RemoveAbandoned", err, "open", 3, ports.ErrChannelNotFound)

	// A lock file alone, whose creator holds no lock on it: a creator that
	// died between its lock file and its channel file.
	if err := f.WriteFile(layout.LockPath(f.Path(4))); err != nil {
		t.Fatal(err)
	}
	if err := r.RemoveAbandoned(4); err != nil {
		t.Fatalf("RemoveAbandoned of a dead creator's lock file: %v", err)
	}
	f.wantChannelError(t, "RemoveAbandoned of what was removed", r.RemoveAbandoned(4), "remove abandoned", 4, ports.ErrChannelNotFound)
	st, err = vol.Create(4, 1<<14, func(ports.Storage) error { return nil })
	if err != nil {
		t.Fatalf("Create after RemoveAbandoned: %v", err)
	}
	st.Close()
}
