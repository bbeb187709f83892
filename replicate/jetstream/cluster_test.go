package jetstream_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/replicate/jetstream"
)

// cluster is three embedded JetStream servers on loopback, routed to each
// other.
type cluster struct {
	t       *testing.T
	mu      sync.Mutex
	servers []*server.Server
	opts    []func() *server.Options
	urls    []string
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	c := &cluster{t: t}
	const n = 3
	ports, cports := make([]int, n), make([]int, n)
	for i := range n {
		ports[i], cports[i] = freePort(t), freePort(t)
	}
	var routes []*url.URL
	for i := range n {
		routes = append(routes, &url.URL{Scheme: "nats-route", Host: fmt.Sprintf("127.0.0.1:%d", cports[i])})
	}
	for i := range n {
		dir := t.TempDir()
		c.opts = append(c.opts, func() *server.Options {
			o := serverOptions(dir, ports[i])
			o.ServerName = fmt.Sprintf("n%d", i)
			o.Cluster = server.ClusterOpts{Name: "kekbit", Host: "127.0.0.1", Port: cports[i]}
			o.Routes = routes
			return o
		})
		c.urls = append(c.urls, fmt.Sprintf("nats://127.0.0.1:%d", ports[i]))
		c.servers = append(c.servers, nil)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = c.start(i) })
	}
	wg.Wait()
	defer func() {
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}()
	t.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, s := range c.servers {
			if s != nil {
				s.Shutdown()
				s.WaitForShutdown()
			}
		}
	})
	for _, err := range errs {
		if err != nil {
			return c // the deferred check reports it
		}
	}
	c.waitPeers(t, n)
	return c
}

// waitPeers waits until the JetStream meta leader counts n peers online
// with their stats, so that a stream of n replicas can be placed: servers
// ready for connections may not have met yet, and a stream created then
// failed with "no suitable peers for placement, peer offline" (seen once
// in a CI run, which then found no stream leader for 4 minutes).
func (c *cluster) waitPeers(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		c.mu.Lock()
		for _, s := range c.servers {
			if s != nil && s.JetStreamIsLeader() && len(s.JetStreamClusterPeers()) >= n {
				c.mu.Unlock()
				return
			}
		}
		c.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("the cluster's meta leader did not count %d JetStream peers online within a minute", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *cluster) start(i int) error {
	s, err := server.NewServer(c.opts[i]())
	if err != nil {
		return err
	}
	go s.Start()
	if !s.ReadyForConnections(2 * time.Minute) {
		s.Shutdown()
		return fmt.Errorf("server n%d did not start", i)
	}
	c.mu.Lock()
	c.servers[i] = s
	c.mu.Unlock()
	return nil
}

func (c *cluster) stop(i int) {
	c.mu.Lock()
	s := c.servers[i]
	c.servers[i] = nil
	c.mu.Unlock()
	s.Shutdown()
	s.WaitForShutdown()
}

func (c *cluster) url() string { return strings.Join(c.urls, ",") }

// streamLeader returns the index of the server leading the stream, once
// there is one.
func (c *cluster) streamLeader(ctx context.Context, stream string) (int, error) {
	nc, err := nats.Connect(c.url())
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	js, err := natsjs.New(nc)
	if err != nil {
		return 0, err
	}
	for {
		// Each look has a deadline of its own: a stream with no leader
		// (an election under way) never answers, and a look on ctx
		// alone waited for all of it (a CI run failed so, 4 minutes).
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		s, err := js.Stream(actx, stream)
		cancel()
		if err == nil {
			if info := s.CachedInfo(); info.Cluster != nil && info.Cluster.Leader != "" {
				var i int
				if _, err := fmt.Sscanf(info.Cluster.Leader, "n%d", &i); err == nil {
					return i, nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("no stream leader: %w (last: %v)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestClusterServerStopped replicates into a stream of 3 replicas on a
// three-node cluster and mirrors it back, while the stream's leader is
// stopped and later restarted: replication carries on, the stream holds
// every record once in order, and the mirror is the source.
func TestClusterServerStopped(t *testing.T) {
	c := startCluster(t)
	src, dst := shmDir(t), shmDir(t)
	const id = 0xC1
	n := scaled(400_000)
	w, path := newChannel(t, src, id, n)
	finish := make(chan struct{})
	wrote := pacedWriter(w, n, finish)

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	rep, err := jetstream.NewReplicator(jetstream.ReplicateConfig{Volume: mmap.NewVolume(src), ChannelID: id, URL: c.url(), Replicas: 3,
		AckTimeout: 2 * time.Second, MaxBackoff: time.Second, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	replicated := make(chan error, 1)
	go func() { replicated <- rep.Run(ctx) }()
	mir, err := jetstream.NewMirrorer(jetstream.MirrorConfig{Volume: mmap.NewVolume(dst), Stream: jetstream.StreamName(id), URL: c.url(),
		MaxBackoff: time.Second, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	mirrored := make(chan error, 1)
	go func() { mirrored <- mir.Run(ctx) }()

	// Wait for replication to be under way, then stop the stream leader.
	step := uint64(scaled(20_000))
	for rep.Stats().Acked < step {
		if ctx.Err() != nil {
			t.Fatal("replication did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	leader, err := c.streamLeader(ctx, jetstream.StreamName(id))
	if err != nil {
		t.Fatal(err)
	}
	before := rep.Stats()
	t.Logf("stopping server n%d, the stream leader, after %d records acknowledged", leader, before.Acked)
	c.stop(leader)
	// Replication goes on with two of three replicas.
	for rep.Stats().Acked < before.Acked+step {
		if ctx.Err() != nil {
			t.Fatalf("replication stopped with the leader: %+v", rep.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("carried on to %d records with n%d down; restarting it", rep.Stats().Acked, leader)
	if err := c.start(leader); err != nil {
		t.Fatal(err)
	}
	close(finish)
	written, ok := (<-wrote).(int)
	if !ok {
		t.Fatal("writer failed")
	}
	if err := <-replicated; err != nil {
		t.Fatal("replicate:", err)
	}
	if err := <-mirrored; err != nil {
		t.Fatal("mirror:", err)
	}
	st := rep.Stats()
	t.Logf("replicator: %+v", st)
	c.replicasAgree(t, jetstream.StreamName(id))
	if got := checkStream(t, c.url(), jetstream.StreamName(id), jetstream.Subject(id), path); got != written {
		t.Fatalf("%d records in the stream, %d written", got, written)
	}
	if got := sameChannels(t, path, mmap.ChannelPath(dst, id)); got != written {
		t.Fatalf("%d records in the mirror, %d written", got, written)
	}
}

// replicaStates returns, for each running server, the state of its
// replica of stream: "n<i>: <messages> messages, last sequence <seq>".
func (c *cluster) replicaStates(stream string) map[int]server.StreamState {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[int]server.StreamState{}
	for i, s := range c.servers {
		if s == nil {
			continue
		}
		info, err := s.Jsz(&server.JSzOptions{Accounts: true, Streams: true})
		if err != nil {
			continue
		}
		for _, a := range info.AccountDetails {
			for _, sd := range a.Streams {
				if sd.Name == stream {
					out[i] = sd.State
				}
			}
		}
	}
	return out
}

// replicasAgree waits until every running server's replica of stream
// holds the same messages up to the same last sequence, and fails the
// test if they do not within a while.
func (c *cluster) replicasAgree(t *testing.T, stream string) {
	t.Helper()
	var states map[int]server.StreamState
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		states = c.replicaStates(stream)
		agree := len(states) == len(c.urls)
		for _, s := range states {
			agree = agree && s.Msgs == states[0].Msgs && s.LastSeq == states[0].LastSeq && s.FirstSeq == states[0].FirstSeq
		}
		if agree {
			return
		}
	}
	for i, s := range states {
		t.Errorf("n%d: %d messages, sequences %d to %d", i, s.Msgs, s.FirstSeq, s.LastSeq)
	}
	t.Fatalf("the replicas of stream %s disagree", stream)
}

// stepDown asks the leader of stream to step down.
func (c *cluster) stepDown(ctx context.Context, stream string) error {
	nc, err := nats.Connect(c.url())
	if err != nil {
		return err
	}
	defer nc.Close()
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second) // a stream with no leader never answers
	defer cancel()
	m, err := nc.RequestWithContext(rctx, "$JS.API.STREAM.LEADER.STEPDOWN."+stream, nil)
	if err != nil {
		return err
	}
	if strings.Contains(string(m.Data), `"error"`) {
		return fmt.Errorf("step-down: %s", m.Data)
	}
	return nil
}

// TestClusterStepDowns: 6 step-downs of the stream leader while the channel
// is written and replicated (the default ack timeout of 10 s): each
// stalls replication for at most 2 s, since acknowledgements that will
// never come are noticed long before the timeout; the stream holds every
// record once in order and the mirror is the source.
func TestClusterStepDowns(t *testing.T) {
	c := startCluster(t)
	src, dst := shmDir(t), shmDir(t)
	const id = 0xC2
	n := scaled(400_000)
	w, path := newChannel(t, src, id, n)
	finish := make(chan struct{})
	wrote := pacedWriter(w, n, finish)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	rep, err := jetstream.NewReplicator(jetstream.ReplicateConfig{Volume: mmap.NewVolume(src), ChannelID: id, URL: c.url(), Replicas: 3, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	replicated := make(chan error, 1)
	go func() { replicated <- rep.Run(ctx) }()
	mirrored := make(chan error, 1)
	go func() {
		mirrored <- jetstream.Mirror(ctx, jetstream.MirrorConfig{Volume: mmap.NewVolume(dst), Stream: jetstream.StreamName(id), URL: c.url(), Logf: t.Logf})
	}()
	for rep.Stats().Acked < 1000 {
		if ctx.Err() != nil {
			t.Fatal("replication did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Watch for the longest time without an acknowledgement.
	var worst time.Duration
	stopWatch := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		last, since := rep.Stats().Acked, time.Now()
		for {
			select {
			case <-stopWatch:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if a := rep.Stats().Acked; a != last {
				last, since = a, time.Now()
			} else if d := time.Since(since); d > worst {
				worst = d
			}
		}
	}()
	// Under the race detector everything is about ten times slower: fewer
	// step-downs, and no bound on the stall (timing means nothing there).
	stepDowns := 6
	if raceEnabled {
		stepDowns = 2
	}
	for i := range stepDowns {
		if _, err := c.streamLeader(ctx, jetstream.StreamName(id)); err != nil {
			t.Fatal(err)
		}
		before := rep.Stats().Acked
		if err := c.stepDown(ctx, jetstream.StreamName(id)); err != nil {
			t.Logf("step-down %d: %v", i, err)
		}
		for rep.Stats().Acked < before+uint64(scaled(5000)) {
			if ctx.Err() != nil {
				t.Fatalf("replication stopped after step-down %d: %+v", i, rep.Stats())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	close(stopWatch)
	<-watched
	close(finish)
	written, ok := (<-wrote).(int)
	if !ok {
		t.Fatal("writer failed")
	}
	if err := <-replicated; err != nil {
		t.Fatal("replicate:", err)
	}
	if err := <-mirrored; err != nil {
		t.Fatal("mirror:", err)
	}
	t.Logf("replicator: %+v; the longest stall: %v", rep.Stats(), worst.Round(time.Millisecond))
	c.replicasAgree(t, jetstream.StreamName(id))
	if got := checkStream(t, c.url(), jetstream.StreamName(id), jetstream.Subject(id), path); got != written {
		t.Fatalf("%d records in the stream, %d written", got, written)
	}
	sameChannels(t, path, mmap.ChannelPath(dst, id))
	if !raceEnabled && worst > 2*time.Second {
		t.Fatalf("replication stalled for %v after a step-down", worst)
	}
}
