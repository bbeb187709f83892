package jetstream_test

import (
	"context"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/replicate/jetstream"
)

// TestReplicateAndMirror replicates a channel while its writer writes it
// and mirrors the stream back at the same time: the mirror channel is the
// source byte for byte. 100,000 records by default, 1,000,000 with
// KEKBIT_LONG=1.
func TestReplicateAndMirror(t *testing.T) {
	n := scaled(100_000)
	if long() {
		n = 1_000_000
	}
	_, url := startServer(t)
	src, dst := shmDir(t), shmDir(t)
	const id = 0x2a_0000_0001
	w, srcPath := newChannel(t, src, id, n)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	wrote := make(chan error, 1)
	go func() {
		err := writeRecords(w, 0, n, false)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		wrote <- err
	}()
	rep, err := jetstream.NewReplicator(jetstream.ReplicateConfig{Volume: mmap.NewVolume(src), ChannelID: id, URL: url, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	replicated := make(chan error, 1)
	go func() { replicated <- rep.Run(ctx) }()
	mir, err := jetstream.NewMirrorer(jetstream.MirrorConfig{Volume: mmap.NewVolume(dst), Stream: jetstream.StreamName(id), URL: url, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	mirrored := make(chan error, 1)
	go func() { mirrored <- mir.Run(ctx) }()

	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	wroteIn := time.Since(start)
	if err := <-replicated; err != nil {
		t.Fatal("replicate:", err)
	}
	replicatedIn := time.Since(start)
	if err := <-mirrored; err != nil {
		t.Fatal("mirror:", err)
	}
	mirroredIn := time.Since(start)
	st := rep.Stats()
	if !st.Done || st.Acked != uint64(n) || st.Resyncs != 0 {
		t.Errorf("replicator stats %+v", st)
	}
	if ms := mir.Stats(); !ms.Done || ms.Records != uint64(n) {
		t.Errorf("mirror stats %+v", ms)
	}
	t.Logf("%d records: written in %v, replicated in %v (%.0f records/s), mirrored in %v",
		n, wroteIn.Round(time.Millisecond), replicatedIn.Round(time.Millisecond), float64(n)/replicatedIn.Seconds(), mirroredIn.Round(time.Millisecond))
	if got := sameChannels(t, srcPath, mmap.ChannelPath(dst, id)); got != n {
		t.Fatalf("%d records, want %d", got, n)
	}
	checkStream(t, url, jetstream.StreamName(id), jetstream.Subject(id), srcPath)

	// Both again: nothing to do, nothing added.
	if err := jetstream.Replicate(ctx, jetstream.ReplicateConfig{Volume: mmap.NewVolume(src), ChannelID: id, URL: url}); err != nil {
		t.Fatal("replicate again:", err)
	}
	if err := jetstream.Mirror(ctx, jetstream.MirrorConfig{Volume: mmap.NewVolume(dst), Stream: jetstream.StreamName(id), URL: url}); err != nil {
		t.Fatal("mirror again:", err)
	}
	sameChannels(t, srcPath, mmap.ChannelPath(dst, id))
}
