package jetstream_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/replicate/jetstream"
)

// logLines collects log lines, safe for concurrent use.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logLines) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

// TestServerRestartResumesAtOnce stops the server for 4 s while a channel
// is written, replicated and mirrored: once it is back, the replicator
// goes on within a second (its back-off, grown to seconds meanwhile, is cut
// short when the connection returns), and both the replicator and the
// mirror said that the server went away and came back.
func TestServerRestartResumesAtOnce(t *testing.T) {
	opts := serverOptions(t.TempDir(), freePort(t))
	srv, url := startServerWith(t, opts)
	src, dst := shmDir(t), shmDir(t)
	const id = 0x1560
	n := scaled(200_000)
	w, path := newChannel(t, src, id, n)
	finish := make(chan struct{})
	wrote := pacedWriter(w, n, finish)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var repLog, mirLog logLines
	rep, _ := jetstream.NewReplicator(jetstream.ReplicateConfig{Volume: mmap.NewVolume(src), ChannelID: id, URL: url, Logf: repLog.logf})
	replicated := make(chan error, 1)
	go func() { replicated <- rep.Run(ctx) }()
	mirrored := make(chan error, 1)
	go func() {
		mirrored <- jetstream.Mirror(ctx, jetstream.MirrorConfig{Volume: mmap.NewVolume(dst), Stream: jetstream.StreamName(id), URL: url, Logf: mirLog.logf})
	}()
	for rep.Stats().Acked < 1000 {
		time.Sleep(10 * time.Millisecond)
	}
	srv.Shutdown()
	srv.WaitForShutdown()
	time.Sleep(4 * time.Second)
	startServerWith(t, opts)
	back := time.Now()
	before := rep.Stats().Acked
	for rep.Stats().Acked == before {
		if ctx.Err() != nil {
			t.Fatal("replication did not go on")
		}
		time.Sleep(time.Millisecond)
	}
	resumed := time.Since(back)
	close(finish)
	written, ok := (<-wrote).(int)
	if !ok {
		t.Fatal("writer failed")
	}
	if err := <-replicated; err != nil {
		t.Fatal(err)
	}
	if err := <-mirrored; err != nil {
		t.Fatal(err)
	}
	if got := sameChannels(t, path, mmap.ChannelPath(dst, id)); got != written {
		t.Fatalf("%d records mirrored, %d written", got, written)
	}
	t.Logf("replication went on %v after the server was back", resumed.Round(time.Millisecond))
	for who, l := range map[string]*logLines{"replicator": &repLog, "mirror": &mirLog} {
		if !l.has("disconnected from NATS") || !l.has("reconnected to NATS") {
			t.Errorf("the %s did not log the outage: %q", who, l.lines)
		}
	}
	// Under the race detector everything is about ten times slower: no
	// bound on the time (it means nothing there).
	if !raceEnabled && resumed > time.Second {
		t.Fatalf("replication went on %v after the server was back", resumed)
	}
}
