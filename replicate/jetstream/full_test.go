package jetstream_test

import (
	"errors"
	"os"
	"testing"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/replicate/jetstream"
)

// TestFullMirrorStoppedBeforeClose: a mirror of a full source stopped
// after the record that filled its channel, before it wrote the close
// mark (what it leaves is the source's file as it was before its writer
// closed it, with no writer), started again, finishes, and its file is the
// closed source's byte for byte, close mark included.
func TestFullMirrorStoppedBeforeClose(t *testing.T) {
	_, url := startServer(t)
	src, dst := shmDir(t), shmDir(t)
	const id = 0x1570
	w, err := domain.Create(mmap.NewVolume(src), testHeader(t, id, 16384, 100), codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if _, err := w.Write(payloadOf(i)); errors.Is(err, domain.ErrChannelFull) {
			break
		} else if errors.Is(err, domain.ErrNoSpace) {
			if _, err := w.Heartbeat(); errors.Is(err, domain.ErrChannelFull) {
				break
			}
		}
	}
	ctx := testCtx(t)
	if err := jetstream.Replicate(ctx, jetstream.ReplicateConfig{Volume: mmap.NewVolume(src), ChannelID: id, URL: url}); err != nil {
		t.Fatal(err)
	}
	path, mir := mmap.ChannelPath(src, id), mmap.ChannelPath(dst, id)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dst+"/0000_0000", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mir, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := jetstream.Mirror(ctx, jetstream.MirrorConfig{Volume: mmap.NewVolume(dst), Stream: jetstream.StreamName(id), URL: url}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	sameChannels(t, path, mir)
	a, _ := os.ReadFile(path)
	m, _ := os.ReadFile(mir)
	if string(a) != string(m) {
		t.Fatal("the mirror's file is not the closed source's")
	}
}
