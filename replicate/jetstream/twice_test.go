package jetstream_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/replicate/jetstream"
)

// idleWriter writes n records to w, each followed by heartbeats for a
// while (so that replicators publish idle markers, at moments of their
// own), then closes w.
func idleWriter(w *domain.Writer[[]byte], n int) error {
	for i := range n {
		if _, err := w.Write(payloadOf(i)); err != nil {
			return err
		}
		for range 20 {
			time.Sleep(200 * time.Microsecond)
			if _, err := w.Heartbeat(); err != nil {
				return err
			}
		}
	}
	return w.Close()
}

// TestTwoReplicatorsIdleMarkers starts two replicators of one channel at
// once, 20 times, with a writer that idles between its records, and
// checks each stream: every record once, in order, nothing lost. The two
// skip the machine's lock file, as two replicators on two machines that
// share the channel would: what keeps them from building one chain out of
// two histories, though their batches end where each happened to read, is
// that each publishes a message only once the one before it is known to
// be its own, at the sequence the new one names.
func TestTwoReplicatorsIdleMarkers(t *testing.T) {
	_, url := startServer(t)
	twoReplicatorRounds(t, url, 1, 20, 0x1500)
}

// TestClusterTwoReplicatorsIdleMarkers is TestTwoReplicatorsIdleMarkers on
// a three-node cluster, into streams of 3 replicas, 10 rounds.
func TestClusterTwoReplicatorsIdleMarkers(t *testing.T) {
	c := startCluster(t)
	twoReplicatorRounds(t, c.url(), 3, 10, 0x1600)
}

// twoReplicatorRounds runs the rounds of TestTwoReplicatorsIdleMarkers
// against the server at url, with streams of the given replicas, channel
// ids from idBase on.
func twoReplicatorRounds(t *testing.T, url string, replicas, rounds int, idBase uint64) {
	t.Helper()
	root := shmDir(t)
	ctx := testCtx(t)
	const records = 8
	bad := 0
	for round := range rounds {
		id := idBase + uint64(round)
		w, path := newChannel(t, root, id, records)
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i := range 2 {
			cfg := jetstream.ReplicateConfig{Volume: mmap.NewVolume(root), ChannelID: id, URL: url, Replicas: replicas,
				MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}
			jetstream.SkipLock(&cfg)
			wg.Go(func() { errs[i] = jetstream.Replicate(ctx, cfg) })
		}
		if err := idleWriter(w, records); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if n, err := verifyStream(t, url, jetstream.StreamName(id), jetstream.Subject(id), path); err != nil {
			bad++
			t.Errorf("round %d: %d records, then: %v", round, n, err)
		}
	}
	t.Logf("%d of %d rounds lost or repeated records", bad, rounds)
}

// TestSecondReplicatorRefused: a second replicator of a channel into the
// same stream on the same machine stops at once with ErrReplicatorRunning
// while the first runs, and runs once the first is gone.
func TestSecondReplicatorRefused(t *testing.T) {
	_, url := startServer(t)
	root := shmDir(t)
	ctx := testCtx(t)
	const id = 0x1520
	w, path := newChannel(t, root, id, 100)
	writeRecords(w, 0, 50, false)
	first, _ := jetstream.NewReplicator(jetstream.ReplicateConfig{Volume: mmap.NewVolume(root), ChannelID: id, URL: url})
	done := make(chan error, 1)
	go func() { done <- first.Run(ctx) }()
	for first.Stats().Acked < 50 {
		time.Sleep(time.Millisecond)
	}
	err := jetstream.Replicate(ctx, jetstream.ReplicateConfig{Volume: mmap.NewFileVolume(path), ChannelID: id, URL: url})
	if !errors.Is(err, jetstream.ErrReplicatorRunning) {
		t.Fatalf("second replicator: %v", err)
	}
	// Into another stream, it may run.
	other := jetstream.ReplicateConfig{Volume: mmap.NewVolume(root), ChannelID: id, URL: url, Stream: "OTHER", Subject: "other.kekbit"}
	writeRecords(w, 50, 100, false)
	w.Close()
	if err := jetstream.Replicate(ctx, other); err != nil {
		t.Fatalf("a replicator into another stream: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The first is gone: a new one runs (and finds everything done).
	if err := jetstream.Replicate(ctx, jetstream.ReplicateConfig{Volume: mmap.NewVolume(root), ChannelID: id, URL: url}); err != nil {
		t.Fatal(err)
	}
	if n := checkStream(t, url, jetstream.StreamName(id), jetstream.Subject(id), path); n != 100 {
		t.Fatalf("%d records", n)
	}
}

// TestHeaderRaceOtherChannel: another channel with the same id (another
// creation time, as on another machine) has its header marker land in
// the stream between a replicator's look at the empty stream and its own
// header marker: once with the same message id (the stream takes the
// replicator's header marker for a duplicate of the other's and
// acknowledges it at the sequence the replicator expects), once without.
// Either way the replicator must stop with ErrMismatch rather than
// publish its records after the other channel's header. (Before, it took
// the duplicate acknowledgement, or the re-sync after its refused header
// marker, for its own header and replicated its records under the other
// channel's header.)
func TestHeaderRaceOtherChannel(t *testing.T) {
	_, url := startServer(t)
	root := shmDir(t)
	ctx := testCtx(t)
	js := streamOf(t, url)
	for i, sameID := range []bool{true, false} {
		id := uint64(0x1530 + i)
		w, _ := newChannel(t, root, id, 20)
		writeRecords(w, 0, 20, false)
		w.Close()
		other := testHeader(t, id, 1<<16, 100)
		other.CreationTime += 1000
		jetstream.BeforeHeader(t, func() {
			m := nats.NewMsg(jetstream.Subject(id))
			m.Data, _ = other.MarshalBinary()
			m.Header.Set(jetstream.HeaderChannel, fmt.Sprintf("%016x", id))
			m.Header.Set(jetstream.HeaderMarker, jetstream.MarkerHeader)
			if sameID {
				m.Header.Set(natsjs.MsgIDHeader, fmt.Sprintf("%016x:header", id))
			}
			if _, err := js.PublishMsg(ctx, m); err != nil {
				t.Error(err)
			}
			jetstream.BeforeHeader(t, nil)
		})
		err := jetstream.Replicate(ctx, jetstream.ReplicateConfig{Volume: mmap.NewVolume(root), ChannelID: id, URL: url,
			MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
		if !errors.Is(err, jetstream.ErrMismatch) {
			t.Errorf("same message id %v: %v, want ErrMismatch", sameID, err)
		}
	}
}
