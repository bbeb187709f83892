package jetstream_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/replicate/jetstream"
)

// streamOf connects to url and returns a JetStream context; the
// connection is closed at the end of the test.
func streamOf(t *testing.T, url string) natsjs.JetStream {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := natsjs.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// TestStreamLimitsRefused: the replicator refuses, with ErrStreamLimits
// naming the limit, a stream whose limits drop messages, and accepts one
// whose limits only refuse new ones (discard new), or any with
// AcceptLimits.
func TestStreamLimitsRefused(t *testing.T) {
	_, url := startServer(t)
	ctx := testCtx(t)
	js := streamOf(t, url)
	src := shmDir(t)
	const id = 0x1550
	w, _ := newChannel(t, src, id, 100)
	writeRecords(w, 0, 100, false)
	w.Close()
	for i, c := range []struct {
		name   string
		cfg    natsjs.StreamConfig
		refuse bool
	}{
		{"max_age", natsjs.StreamConfig{MaxAge: time.Hour}, true},
		{"max_msgs", natsjs.StreamConfig{MaxMsgs: 1000}, true},
		{"max_bytes", natsjs.StreamConfig{MaxBytes: 1 << 20}, true},
		{"max_msgs_per_subject", natsjs.StreamConfig{MaxMsgsPerSubject: 1000}, true},
		{"retention interest", natsjs.StreamConfig{Retention: natsjs.InterestPolicy}, true},
		{"retention workqueue", natsjs.StreamConfig{Retention: natsjs.WorkQueuePolicy}, true},
		{"max_msgs with discard new", natsjs.StreamConfig{MaxMsgs: 1000, Discard: natsjs.DiscardNew}, false},
		{"none", natsjs.StreamConfig{}, false},
	} {
		for _, accept := range []bool{false, true} {
			cfg := c.cfg
			cfg.Name = "LIM_" + string(rune('A'+i)) + map[bool]string{false: "", true: "_ACCEPTED"}[accept]
			cfg.Subjects = []string{"lim." + cfg.Name}
			if _, err := js.CreateStream(ctx, cfg); err != nil {
				t.Fatal(c.name, err)
			}
			err := jetstream.Replicate(ctx, jetstream.ReplicateConfig{Volume: mmap.NewVolume(src), ChannelID: id, URL: url,
				Stream: cfg.Name, Subject: cfg.Subjects[0], NoCreate: true, AcceptLimits: accept})
			switch {
			case c.refuse && !accept:
				if !errors.Is(err, jetstream.ErrStreamLimits) || !strings.Contains(err.Error(), c.name) {
					t.Errorf("%s: %v, want ErrStreamLimits naming %s", c.name, err, c.name)
				}
			case err != nil:
				t.Errorf("%s (accepted %v): %v", c.name, accept, err)
			}
		}
	}
}

// replicateSome runs a replicator with cfg until n records are in the
// stream, then stops it.
func replicateSome(t *testing.T, ctx context.Context, cfg jetstream.ReplicateConfig, n uint64) {
	t.Helper()
	rep, err := jetstream.NewReplicator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- rep.Run(rctx) }()
	for rep.Stats().Acked < n {
		select {
		case err := <-done:
			t.Fatalf("the replicator stopped: %v", err)
		case <-time.After(time.Millisecond):
		}
	}
	cancel()
	<-done
}

// waitEmpty waits until stream holds no message.
func waitEmpty(t *testing.T, js natsjs.JetStream, stream string) uint64 {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; {
		s, err := js.Stream(context.Background(), stream)
		if err != nil {
			t.Fatal(err)
		}
		if st := s.CachedInfo().State; st.Msgs == 0 {
			return st.LastSeq
		}
		if time.Now().After(deadline) {
			t.Fatal("the stream's messages did not expire")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestStreamEmptiedNotRepublished: a stream whose messages all expired
// (max_age) is not taken for a new one: the replicator refuses it with
// ErrStreamLost instead of publishing the channel into it again, and so
// does a mirror.
func TestStreamEmptiedNotRepublished(t *testing.T) {
	_, url := startServer(t)
	ctx := testCtx(t)
	js := streamOf(t, url)
	src := shmDir(t)
	const id = 0x1551
	w, _ := newChannel(t, src, id, 100)
	writeRecords(w, 0, 20, false)
	const stream, subject = "EXPIRING", "kekbit.expiring"
	if _, err := js.CreateStream(ctx, natsjs.StreamConfig{Name: stream, Subjects: []string{subject}, MaxAge: time.Second}); err != nil {
		t.Fatal(err)
	}
	// Small batches: a record or two a message, so that the first
	// messages go.
	cfg := jetstream.ReplicateConfig{Volume: mmap.NewVolume(src), ChannelID: id, URL: url, Stream: stream, Subject: subject, AcceptLimits: true,
		BatchBytes: 64}
	replicateSome(t, ctx, cfg, 20)
	last := waitEmpty(t, js, stream)
	writeRecords(w, 20, 40, false)
	w.Close()
	if err := jetstream.Replicate(ctx, cfg); !errors.Is(err, jetstream.ErrStreamLost) {
		t.Fatalf("replicating into the emptied stream: %v", err)
	}
	s, _ := js.Stream(ctx, stream)
	if got := s.CachedInfo().State.LastSeq; got != last {
		t.Fatalf("the stream went from sequence %d to %d", last, got)
	}
	err := jetstream.Mirror(ctx, jetstream.MirrorConfig{Volume: mmap.NewVolume(shmDir(t)), Stream: stream, URL: url})
	if !errors.Is(err, jetstream.ErrStreamLost) {
		t.Fatalf("mirroring the emptied stream: %v", err)
	}
}

// TestStreamFirstMessagesDropped: in a stream whose limits dropped the
// first messages (the header marker among them), a mirror cannot be made
// (ErrStreamLost), a replicator refuses the stream for its limits, and one
// that accepts them carries on.
func TestStreamFirstMessagesDropped(t *testing.T) {
	_, url := startServer(t)
	ctx := testCtx(t)
	js := streamOf(t, url)
	src := shmDir(t)
	const id = 0x1552
	w, path := newChannel(t, src, id, 100)
	writeRecords(w, 0, 20, false)
	const stream, subject = "SHORT", "kekbit.short"
	if _, err := js.CreateStream(ctx, natsjs.StreamConfig{Name: stream, Subjects: []string{subject}, MaxMsgs: 5}); err != nil {
		t.Fatal(err)
	}
	// Small batches: a record or two a message, so that the first
	// messages go.
	cfg := jetstream.ReplicateConfig{Volume: mmap.NewVolume(src), ChannelID: id, URL: url, Stream: stream, Subject: subject, AcceptLimits: true,
		BatchBytes: 64}
	replicateSome(t, ctx, cfg, 20)
	err := jetstream.Mirror(ctx, jetstream.MirrorConfig{Volume: mmap.NewVolume(shmDir(t)), Stream: stream, URL: url})
	if !errors.Is(err, jetstream.ErrStreamLost) {
		t.Fatalf("mirroring a stream without its first messages: %v", err)
	}
	strict := cfg
	strict.AcceptLimits = false
	if err := jetstream.Replicate(ctx, strict); !errors.Is(err, jetstream.ErrStreamLimits) {
		t.Fatalf("replicating into it without accepting its limits: %v", err)
	}
	writeRecords(w, 20, 30, false)
	w.Close()
	if err := jetstream.Replicate(ctx, cfg); err != nil {
		t.Fatalf("replicating into it, its limits accepted: %v", err)
	}
	// The stream's last messages are the channel's last records and the
	// end marker.
	els := readStream(t, url, stream, subject)
	_, recs, _, _ := readChannel(t, path)
	msgs := map[uint64]bool{}
	for _, e := range els {
		msgs[e.seq] = true
	}
	n := len(els)
	if len(msgs) != 5 || els[n-1].marker != jetstream.MarkerEnd || els[n-2].pos != recs[len(recs)-1].pos {
		t.Fatalf("the stream ends with %d messages: %+v", len(msgs), els)
	}
}
