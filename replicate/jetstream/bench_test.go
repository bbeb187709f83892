package jetstream_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/replicate/jetstream"
)

// BenchmarkReplicate measures replication throughput through an embedded
// JetStream server (file storage in a temp dir, loopback): b.N records of
// 72 bytes, written to a channel beforehand, replicated until the end
// marker is acknowledged. It reports records/s; MB/s counts payload bytes.
func BenchmarkReplicate(b *testing.B) {
	for _, window := range []int{256, 1024, jetstream.DefaultWindow} {
		b.Run(fmt.Sprintf("window=%d", window), func(b *testing.B) {
			_, url := startServer(b)
			root := shmDir(b)
			const id = 0xBE
			capacity := uint32(min(uint64(b.N)*80+(1<<16), domain.MaxCapacity&^7))
			w, err := domain.Create(mmap.NewVolume(root), testHeader(b, id, capacity, 100), codecs.Raw{})
			if err != nil {
				b.Fatal(err)
			}
			payload := bytes.Repeat([]byte{'k'}, 72)
			for range b.N {
				if _, err := w.Write(payload); err != nil {
					b.Fatal(err)
				}
			}
			w.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			b.SetBytes(72)
			b.ResetTimer()
			start := time.Now()
			err = jetstream.Replicate(ctx, jetstream.ReplicateConfig{Volume: mmap.NewVolume(root), ChannelID: id, URL: url, Window: window})
			elapsed := time.Since(start)
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
		})
	}
}

// BenchmarkMirror measures the other direction: b.N records of 72 bytes
// in the stream, consumed into a mirror channel.
func BenchmarkMirror(b *testing.B) {
	_, url := startServer(b)
	src, dst := shmDir(b), shmDir(b)
	const id = 0xBF
	capacity := uint32(min(uint64(b.N)*80+(1<<16), domain.MaxCapacity&^7))
	w, err := domain.Create(mmap.NewVolume(src), testHeader(b, id, capacity, 100), codecs.Raw{})
	if err != nil {
		b.Fatal(err)
	}
	payload := bytes.Repeat([]byte{'k'}, 72)
	for range b.N {
		if _, err := w.Write(payload); err != nil {
			b.Fatal(err)
		}
	}
	w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := jetstream.Replicate(ctx, jetstream.ReplicateConfig{Volume: mmap.NewVolume(src), ChannelID: id, URL: url}); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(72)
	b.ResetTimer()
	start := time.Now()
	err = jetstream.Mirror(ctx, jetstream.MirrorConfig{Volume: mmap.NewVolume(dst), Stream: jetstream.StreamName(id), URL: url})
	elapsed := time.Since(start)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
}
