//go:build unix

package jetstream_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/internal/layout"
	"github.com/kekbit-go/kekbit/ports"
	"github.com/kekbit-go/kekbit/replicate/jetstream"
)

// mirrorPlace returns a fresh volume for a mirror of channel id and the
// mirror channel's path, whose folder exists: a folder of channels, or a
// file named by its path.
func mirrorPlace(t *testing.T, id uint64, byPath bool) (ports.Volume, string) {
	t.Helper()
	dst := shmDir(t)
	var vol ports.Volume = mmap.NewVolume(dst)
	mir := mmap.ChannelPath(dst, id)
	if byPath {
		mir = filepath.Join(dst, "mirror.kekbit")
		vol = mmap.NewFileVolume(mir)
	}
	if err := os.MkdirAll(filepath.Dir(mir), 0o755); err != nil {
		t.Fatal(err)
	}
	return vol, mir
}

// TestMirrorKilledWhileCreating leaves, in the mirror's place, exactly what
// a mirror killed at each step of creating its channel leaves (the
// channel's lock file, no creator holding it, and the channel file as far
// as it got), in a folder of channels and as a file named by its path:
// every next mirror finishes, identical to the source.
func TestMirrorKilledWhileCreating(t *testing.T) {
	_, url := startServer(t)
	src := shmDir(t)
	const id = 0x1540
	w, path := newChannel(t, src, id, 500)
	writeRecords(w, 0, 500, false)
	w.Close()
	ctx := testCtx(t)
	if err := jetstream.Replicate(ctx, jetstream.ReplicateConfig{Volume: mmap.NewVolume(src), ChannelID: id, URL: url}); err != nil {
		t.Fatal(err)
	}
	// What the mirror's create writes, step by step: the file a finished
	// init leaves (header and first heartbeat).
	h, _, _, _ := readChannel(t, path)
	scratch := t.TempDir() + "/made.kekbit"
	var sw *domain.Writer[[]byte]
	if _, err := mmap.CreateFile(scratch, h.FileSize(), func(st ports.Storage) error {
		var err error
		sw, err = domain.NewWriter(st, h, codecs.Raw{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	sw.Release()
	made, err := os.ReadFile(scratch)
	if err != nil {
		t.Fatal(err)
	}
	states := []struct {
		name string
		file []byte // nil: no channel file yet
	}{
		{"lock file only", nil},
		{"empty channel file", []byte{}},
		{"channel file of zeros", make([]byte, len(made))},
		{"half a header", append(append([]byte{}, made[:40]...), make([]byte, len(made)-40)...)},
		{"init done, lock file not yet removed", made},
	}
	for _, byPath := range []bool{false, true} {
		for _, s := range states {
			name := s.name
			if byPath {
				name += ", by path"
			}
			t.Run(name, func(t *testing.T) {
				vol, mir := mirrorPlace(t, id, byPath)
				if err := os.WriteFile(mmap.LockPath(mir), nil, 0o644); err != nil {
					t.Fatal(err)
				}
				if s.file != nil {
					if err := os.WriteFile(mir, s.file, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				if err := jetstream.Mirror(ctx, jetstream.MirrorConfig{Volume: vol, Stream: jetstream.StreamName(id), URL: url}); err != nil {
					t.Fatal(err)
				}
				sameChannels(t, path, mir)
				if _, err := os.Stat(mmap.LockPath(mir)); !os.IsNotExist(err) {
					t.Fatalf("the lock file is still there: %v", err)
				}
			})
		}
	}
	// A live creator's lock file (its lock held) is left alone: the
	// mirror waits, and goes on once the creator is gone.
	for _, byPath := range []bool{false, true} {
		vol, mir := mirrorPlace(t, id, byPath)
		f, err := os.Create(mmap.LockPath(mir))
		if err != nil {
			t.Fatal(err)
		}
		if err := (layout.OSFile{File: f}).TryLock(); err != nil {
			t.Fatal(err)
		}
		short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		err = jetstream.Mirror(short, jetstream.MirrorConfig{Volume: vol, Stream: jetstream.StreamName(id), URL: url, MaxBackoff: 20 * time.Millisecond})
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("by path %v: with a live creator: %v", byPath, err)
		}
		if _, err := os.Stat(mmap.LockPath(mir)); err != nil {
			t.Fatalf("by path %v: the live creator's lock file: %v", byPath, err)
		}
		f.Close() // the creator dies
		if err := jetstream.Mirror(ctx, jetstream.MirrorConfig{Volume: vol, Stream: jetstream.StreamName(id), URL: url}); err != nil {
			t.Fatal(err)
		}
		sameChannels(t, path, mir)
	}
}
