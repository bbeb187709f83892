package jetstream_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/replicate/jetstream"
)

// fullChannel creates channel id of 16 KiB under root and fills it with
// records (and heartbeats where no record fits) until it is full; its
// writer is still open.
func fullChannel(t *testing.T, root string, id uint64) *domain.Writer[[]byte] {
	t.Helper()
	w, err := domain.Create(mmap.NewVolume(root), testHeader(t, id, 16384, 100), codecs.Raw{})
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
	return w
}

// TestFullMirrorStoppedBeforeClose: a mirror of a full source stopped
// after the record that filled its channel, before it wrote the close
// mark (what it leaves is the source's file as it was before its writer
// closed it, with no writer), started again, finishes, and its file is the
// closed source's byte for byte, close mark included.
func TestFullMirrorStoppedBeforeClose(t *testing.T) {
	_, url := startServer(t)
	src, dst := shmDir(t), shmDir(t)
	const id = 0x1570
	w := fullChannel(t, src, id)
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

// TestFullMirrorWaitsForEndMarker: a full mirror channel (stopped after
// the record that filled it) whose stream has no end marker yet waits for
// it, then closes, identical to the closed source. The stream without its
// end marker is a copy of the replication's messages but the last.
func TestFullMirrorWaitsForEndMarker(t *testing.T) {
	_, url := startServer(t)
	src, dst := shmDir(t), shmDir(t)
	const id = 0x1571
	w := fullChannel(t, src, id)
	ctx := testCtx(t)
	if err := jetstream.Replicate(ctx, jetstream.ReplicateConfig{Volume: mmap.NewVolume(src), ChannelID: id, URL: url}); err != nil {
		t.Fatal(err)
	}
	// The copy, but its end marker.
	js := streamOf(t, url)
	if _, err := js.CreateStream(ctx, natsjs.StreamConfig{Name: "PARTIAL", Subjects: []string{"partial"}}); err != nil {
		t.Fatal(err)
	}
	cons, err := js.OrderedConsumer(ctx, jetstream.StreamName(id), natsjs.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var end *nats.Msg
	for end == nil {
		msg, err := cons.Next(natsjs.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		m := &nats.Msg{Subject: "partial", Header: nats.Header{}, Data: msg.Data()}
		for k, v := range msg.Headers() {
			if !strings.HasPrefix(k, "Nats-Expected") {
				m.Header[k] = v
			}
		}
		if m.Header.Get(jetstream.HeaderMarker) == jetstream.MarkerEnd {
			end = m
			break
		}
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	path, mir := mmap.ChannelPath(src, id), mmap.ChannelPath(dst, id)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(dst+"/0000_0000", 0o755)
	if err := os.WriteFile(mir, b, 0o644); err != nil {
		t.Fatal(err)
	}
	var log logLines
	done := make(chan error, 1)
	go func() {
		done <- jetstream.Mirror(ctx, jetstream.MirrorConfig{Volume: mmap.NewVolume(dst), Stream: "PARTIAL", URL: url,
			MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Logf: log.logf})
	}()
	for !log.has("waiting for stream PARTIAL's end marker") {
		select {
		case err := <-done:
			t.Fatalf("the mirror ended before the end marker: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if _, err := js.PublishMsg(ctx, end); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	w.Close()
	a, _ := os.ReadFile(path)
	m, _ := os.ReadFile(mir)
	if string(a) != string(m) {
		t.Fatal("the mirror's file is not the closed source's")
	}
}
