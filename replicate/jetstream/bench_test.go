package jetstream_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

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
	for _, batch := range []int{4 << 10, 16 << 10, jetstream.DefaultBatchBytes} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
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
			err = jetstream.Replicate(ctx, jetstream.ReplicateConfig{Volume: mmap.NewVolume(root), ChannelID: id, URL: url, BatchBytes: batch})
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

// BenchmarkAgainstBare measures, in one run through one embedded server,
// what JetStream allows here and what this package makes of it: b.N
// records of 72 bytes published by a bare nats.go asynchronous publisher
// (no headers, 4096 in flight) beside Replicate of a channel holding the
// same records, and read by a bare ordered consumer beside Mirror. It
// reports each rate in records/s and the ratios replicate/bare and
// mirror/bare. Run it with a fixed count, e.g.
// go test -run '^$' -bench AgainstBare -benchtime 200000x ./replicate/jetstream/
func BenchmarkAgainstBare(b *testing.B) {
	_, url := startServer(b)
	nc, err := nats.Connect(url)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, err := natsjs.New(nc, natsjs.WithPublishAsyncMaxPending(jetstream.DefaultWindow))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	payload := bytes.Repeat([]byte{'k'}, 72)
	b.SetBytes(72)
	b.ResetTimer()

	// The bare publisher.
	if _, err := js.CreateStream(ctx, natsjs.StreamConfig{Name: "BARE", Subjects: []string{"bare"}, Storage: natsjs.FileStorage}); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	for range b.N {
		if _, err := js.PublishAsync("bare", payload); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		b.Fatal("the bare publisher's acknowledgements did not come")
	}
	barePub := float64(b.N) / time.Since(start).Seconds()

	// Replicate, of a channel written beforehand (not timed).
	b.StopTimer()
	src, dst := shmDir(b), shmDir(b)
	const id = 0xBA
	capacity := uint32(min(uint64(b.N)*80+(1<<16), domain.MaxCapacity&^7))
	w, err := domain.Create(mmap.NewVolume(src), testHeader(b, id, capacity, 100), codecs.Raw{})
	if err != nil {
		b.Fatal(err)
	}
	for range b.N {
		if _, err := w.Write(payload); err != nil {
			b.Fatal(err)
		}
	}
	w.Close()
	b.StartTimer()
	start = time.Now()
	if err := jetstream.Replicate(ctx, jetstream.ReplicateConfig{Volume: mmap.NewVolume(src), ChannelID: id, URL: url}); err != nil {
		b.Fatal(err)
	}
	replicate := float64(b.N) / time.Since(start).Seconds()

	// The bare ordered consumer.
	start = time.Now()
	cons, err := js.OrderedConsumer(ctx, "BARE", natsjs.OrderedConsumerConfig{})
	if err != nil {
		b.Fatal(err)
	}
	it, err := cons.Messages(natsjs.PullMaxMessages(4096))
	if err != nil {
		b.Fatal(err)
	}
	for range b.N {
		if _, err := it.Next(natsjs.NextContext(ctx)); err != nil {
			b.Fatal(err)
		}
	}
	it.Stop()
	bareCons := float64(b.N) / time.Since(start).Seconds()

	// Mirror.
	start = time.Now()
	if err := jetstream.Mirror(ctx, jetstream.MirrorConfig{Volume: mmap.NewVolume(dst), Stream: jetstream.StreamName(id), URL: url}); err != nil {
		b.Fatal(err)
	}
	mirror := float64(b.N) / time.Since(start).Seconds()
	b.StopTimer()

	b.ReportMetric(barePub, "bare-publish/s")
	b.ReportMetric(replicate, "replicate/s")
	b.ReportMetric(replicate/barePub, "replicate/bare")
	b.ReportMetric(bareCons, "bare-consume/s")
	b.ReportMetric(mirror, "mirror/s")
	b.ReportMetric(mirror/bareCons, "mirror/bare")
}
