package jetstream_test

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/ports"
	"github.com/kekbit-go/kekbit/replicate/jetstream"
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// TestFullChannel: a channel that fills up is replicated with an end
// marker "full", and the mirror ends full at the same position.
func TestFullChannel(t *testing.T) {
	_, url := startServer(t)
	src, dst := shmDir(t), shmDir(t)
	const id = 7
	w := fullChannel(t, src, id)
	ctx := testCtx(t)
	if err := jetstream.Replicate(ctx, jetstream.ReplicateConfig{Volume: mmap.NewVolume(src), ChannelID: id, URL: url}); err != nil {
		t.Fatal(err)
	}
	if err := jetstream.Mirror(ctx, jetstream.MirrorConfig{Volume: mmap.NewVolume(dst), Stream: jetstream.StreamName(id), URL: url}); err != nil {
		t.Fatal(err)
	}
	path := mmap.ChannelPath(src, id)
	checkStream(t, url, jetstream.StreamName(id), jetstream.Subject(id), path)
	if _, _, _, end := readChannel(t, mmap.ChannelPath(dst, id)); !errors.Is(end, domain.ErrChannelFull) {
		t.Fatalf("mirror ends %v", end)
	}
	// The mirror closes its channel (a close mark where the channel is
	// full); the source is the same once its writer closes too.
	w.Close()
	sameChannels(t, path, mmap.ChannelPath(dst, id))
}

// TestIdleMarkers: while the source's writer sends only heartbeats, idle
// markers carry them to the mirror, whose readers therefore do not time
// out; positions still match.
func TestIdleMarkers(t *testing.T) {
	_, url := startServer(t)
	src, dst := shmDir(t), shmDir(t)
	const id = 8
	// A timeout of 1 s: a loaded machine (CI runs every package's tests at
	// once) can hold the replicator, NATS and the mirror up for a few
	// hundred milliseconds, which is not what this test is about.
	h, err := domain.NewHeader(domain.Hints{ChannelID: id, Capacity: 1 << 20, MaxMsgLen: 100, Timeout: 1000, TickUnit: domain.Millis})
	if err != nil {
		t.Fatal(err)
	}
	w, err := domain.Create(mmap.NewVolume(src), h, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	var wg sync.WaitGroup
	wg.Add(2)
	var repErr, mirErr error
	go func() {
		defer wg.Done()
		repErr = jetstream.Replicate(ctx, jetstream.ReplicateConfig{Volume: mmap.NewVolume(src), ChannelID: id, URL: url})
	}()
	go func() {
		defer wg.Done()
		mirErr = jetstream.Mirror(ctx, jetstream.MirrorConfig{Volume: mmap.NewVolume(dst), Stream: jetstream.StreamName(id), URL: url})
	}()
	w.Write([]byte("before the pause"))
	// A reader of the mirror, which must not time out during the pause.
	mr, err := domain.OpenWhenReady(ctx, mmap.NewVolume(dst), id)
	if err != nil {
		t.Fatal(err)
	}
	defer mr.Close()
	var got []string
	followed := make(chan error, 1)
	go func() {
		followed <- mr.Follow(ctx, func(rec domain.Record) error { p := rec.Payload; got = append(got, string(p)); return nil })
	}()
	for range 300 { // three seconds of heartbeats, 3 times the timeout
		time.Sleep(10 * time.Millisecond)
		w.Heartbeat()
	}
	w.Write([]byte("after the pause"))
	w.Close()
	wg.Wait()
	if repErr != nil || mirErr != nil {
		t.Fatal(repErr, mirErr)
	}
	if err := <-followed; !errors.Is(err, domain.ErrClosed) {
		t.Fatalf("the mirror's reader ended with %v (records %q)", err, got)
	}
	if len(got) != 2 {
		t.Fatalf("the mirror's reader got %q", got)
	}
	path := mmap.ChannelPath(src, id)
	sameChannels(t, path, mmap.ChannelPath(dst, id))
	checkStream(t, url, jetstream.StreamName(id), jetstream.Subject(id), path)
	idle := 0
	for _, e := range readStream(t, url, jetstream.StreamName(id), jetstream.Subject(id)) {
		if e.marker == jetstream.MarkerIdle {
			idle++
		}
	}
	if idle == 0 {
		t.Fatal("no idle marker")
	}
	t.Logf("%d idle markers", idle)
}

// TestWriterGoneThenResumed: a source whose writer goes away unclosed
// stops the replicator with ErrWriterGone, everything before replicated;
// once a new writer resumes the source, a new replicator carries on.
func TestWriterGoneThenResumed(t *testing.T) {
	_, url := startServer(t)
	src, dst := shmDir(t), shmDir(t)
	const id = 9
	w, path := newChannel(t, src, id, 2000)
	if err := writeRecords(w, 0, 1000, false); err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	done := make(chan error, 1)
	rep, _ := jetstream.NewReplicator(jetstream.ReplicateConfig{Volume: mmap.NewVolume(src), ChannelID: id, URL: url})
	go func() { done <- rep.Run(ctx) }()
	for rep.Stats().Acked < 1000 {
		time.Sleep(5 * time.Millisecond)
	}
	w.Release()
	if err := <-done; !errors.Is(err, domain.ErrWriterGone) {
		t.Fatalf("replicate after the writer went: %v", err)
	}
	st, err := mmap.NewVolume(src).OpenForWrite(id)
	if err != nil {
		t.Fatal(err)
	}
	w, err = domain.Resume(st, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	if err := writeRecords(w, 1000, 2000, false); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if err := jetstream.Replicate(ctx, jetstream.ReplicateConfig{Volume: mmap.NewVolume(src), ChannelID: id, URL: url}); err != nil {
		t.Fatal(err)
	}
	if n := checkStream(t, url, jetstream.StreamName(id), jetstream.Subject(id), path); n != 2000 {
		t.Fatalf("%d records", n)
	}
	if err := jetstream.Mirror(ctx, jetstream.MirrorConfig{Volume: mmap.NewVolume(dst), Stream: jetstream.StreamName(id), URL: url}); err != nil {
		t.Fatal(err)
	}
	sameChannels(t, path, mmap.ChannelPath(dst, id))
}

// TestServerLate: a replicator and a mirror started before the server
// wait with back-off and do their work once it is there.
func TestServerLate(t *testing.T) {
	port := freePort(t)
	src, dst := shmDir(t), shmDir(t)
	const id = 10
	w, path := newChannel(t, src, id, 5000)
	writeRecords(w, 0, 5000, false)
	w.Close()
	ctx := testCtx(t)
	url := "nats://127.0.0.1:" + strconv.Itoa(port)
	var retries sync.Map
	logf := func(name string) func(string, ...any) {
		return func(string, ...any) { retries.Store(name, true) }
	}
	errs := make(chan error, 2)
	go func() {
		errs <- jetstream.Replicate(ctx, jetstream.ReplicateConfig{Volume: mmap.NewVolume(src), ChannelID: id, URL: url, MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, Logf: logf("replicate")})
	}()
	go func() {
		errs <- jetstream.Mirror(ctx, jetstream.MirrorConfig{Volume: mmap.NewVolume(dst), Stream: jetstream.StreamName(id), URL: url, MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, Logf: logf("mirror")})
	}()
	time.Sleep(700 * time.Millisecond)
	startServerWith(t, serverOptions(t.TempDir(), port))
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := retries.Load("replicate"); !ok {
		t.Error("the replicator did not retry")
	}
	sameChannels(t, path, mmap.ChannelPath(dst, id))
}

// TestUnreachableServerBoundedByContext: with no server, Replicate waits
// and retries until its context ends.
func TestUnreachableServerBoundedByContext(t *testing.T) {
	src := shmDir(t)
	w, _ := newChannel(t, src, 11, 10)
	writeRecords(w, 0, 10, false)
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err := jetstream.Replicate(ctx, jetstream.ReplicateConfig{Volume: mmap.NewVolume(src), ChannelID: 11, URL: "nats://127.0.0.1:" + strconv.Itoa(freePort(t)), MinBackoff: 10 * time.Millisecond})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
}

// TestMismatches: the replicator and the mirror refuse, with ErrMismatch,
// a stream that holds another channel, a stream shared with other
// subjects, and a local mirror channel that holds other records.
func TestMismatches(t *testing.T) {
	_, url := startServer(t)
	ctx := testCtx(t)
	src := shmDir(t)
	const id = 12
	w, path := newChannel(t, src, id, 100)
	writeRecords(w, 0, 100, false)
	w.Close()
	if err := jetstream.Replicate(ctx, jetstream.ReplicateConfig{Volume: mmap.NewVolume(src), ChannelID: id, URL: url}); err != nil {
		t.Fatal(err)
	}

	// Another channel with the same id (another creation time).
	other := shmDir(t)
	h := testHeader(t, id, 1<<16, 100)
	h.CreationTime++
	w2, err := domain.Create(mmap.NewVolume(other), h, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	writeRecords(w2, 0, 10, false)
	w2.Close()
	if err := jetstream.Replicate(ctx, jetstream.ReplicateConfig{Volume: mmap.NewVolume(other), ChannelID: id, URL: url}); !errors.Is(err, jetstream.ErrMismatch) {
		t.Fatalf("another channel into the stream: %v", err)
	}

	// A mirror channel whose records differ from the stream's.
	dst := shmDir(t)
	hs, _, _, _ := readChannel(t, path)
	w3, err := domain.Create(mmap.NewVolume(dst), hs, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	w3.Write(payloadOf(0))
	w3.Write([]byte("not record 1 ............"))
	w3.Release()
	if err := jetstream.Mirror(ctx, jetstream.MirrorConfig{Volume: mmap.NewVolume(dst), Stream: jetstream.StreamName(id), URL: url}); !errors.Is(err, jetstream.ErrMismatch) {
		t.Fatalf("mirror onto other records: %v", err)
	}

	// A stream that holds other subjects too.
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := natsjs.New(nc)
	if _, err := js.CreateStream(ctx, natsjs.StreamConfig{Name: "SHARED", Subjects: []string{"shared.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "shared.other", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := jetstream.Replicate(ctx, jetstream.ReplicateConfig{Volume: mmap.NewVolume(src), ChannelID: id, URL: url, Stream: "SHARED", Subject: "shared.kekbit"}); !errors.Is(err, jetstream.ErrMismatch) {
		t.Fatalf("a shared stream: %v", err)
	}
	// A stream that does not take the subject.
	if err := jetstream.Replicate(ctx, jetstream.ReplicateConfig{Volume: mmap.NewVolume(src), ChannelID: id, URL: url, Stream: "SHARED"}); !errors.Is(err, jetstream.ErrMismatch) || !strings.Contains(err.Error(), "does not take subject") {
		t.Fatalf("a stream without the subject: %v", err)
	}
	// No stream and NoCreate: it waits for the stream to be made.
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := jetstream.Replicate(short, jetstream.ReplicateConfig{Volume: mmap.NewVolume(src), ChannelID: id, URL: url, Stream: "NONE", NoCreate: true, MaxBackoff: 50 * time.Millisecond}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("replicating into a stream that does not exist: %v", err)
	}
}

// TestMirrorResumeAfterStop: a mirror stopped by its context leaves its
// channel unclosed; a second one resumes it.
func TestMirrorResumeAfterStop(t *testing.T) {
	_, url := startServer(t)
	src, dst := shmDir(t), shmDir(t)
	const id = 13
	w, path := newChannel(t, src, id, 50_000)
	writeRecords(w, 0, 50_000, false)
	w.Close()
	ctx := testCtx(t)
	if err := jetstream.Replicate(ctx, jetstream.ReplicateConfig{Volume: mmap.NewVolume(src), ChannelID: id, URL: url}); err != nil {
		t.Fatal(err)
	}
	stopCtx, stopMirror := context.WithCancel(ctx)
	m1, _ := jetstream.NewMirrorer(jetstream.MirrorConfig{Volume: mmap.NewVolume(dst), Stream: jetstream.StreamName(id), URL: url})
	done := make(chan error, 1)
	go func() { done <- m1.Run(stopCtx) }()
	for m1.Stats().Records < 10_000 {
		time.Sleep(time.Millisecond)
	}
	stopMirror()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	part := m1.Stats()
	if part.Done || part.Records >= 50_000 {
		t.Fatalf("the first mirror did everything: %+v", part)
	}
	_, recs, _, end := readChannel(t, mmap.ChannelPath(dst, id))
	if uint64(len(recs)) != part.Records || !errors.Is(end, domain.ErrNothingYet) {
		t.Fatalf("stopped mirror: %d records (stats %d), end %v", len(recs), part.Records, end)
	}

	// A second mirror resumes where the first stopped.
	m2, _ := jetstream.NewMirrorer(jetstream.MirrorConfig{Volume: mmap.NewVolume(dst), Stream: jetstream.StreamName(id), URL: url})
	if err := m2.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if m2.Stats().Records+part.Records != 50_000 {
		t.Fatalf("the second mirror wrote %d records after %d", m2.Stats().Records, part.Records)
	}
	sameChannels(t, path, mmap.ChannelPath(dst, id))
}

// TestMirrorRefusedWhileAnotherRuns: two mirrors of one channel cannot
// write it at once.
func TestMirrorRefusedWhileAnotherRuns(t *testing.T) {
	_, url := startServer(t)
	src, dst := shmDir(t), shmDir(t)
	const id = 14
	w, _ := newChannel(t, src, id, 100)
	writeRecords(w, 0, 50, false)
	defer w.Close()
	ctx := testCtx(t)
	runCtx, cancel := context.WithCancel(ctx)
	go jetstream.Replicate(runCtx, jetstream.ReplicateConfig{Volume: mmap.NewVolume(src), ChannelID: id, URL: url})
	m1, _ := jetstream.NewMirrorer(jetstream.MirrorConfig{Volume: mmap.NewVolume(dst), Stream: jetstream.StreamName(id), URL: url})
	done := make(chan error, 1)
	go func() { done <- m1.Run(runCtx) }()
	for m1.Stats().Records < 50 {
		time.Sleep(time.Millisecond)
	}
	err := jetstream.Mirror(ctx, jetstream.MirrorConfig{Volume: mmap.NewVolume(dst), Stream: jetstream.StreamName(id), URL: url})
	if !errors.Is(err, mmap.ErrWriterAlive) {
		t.Fatalf("second mirror: %v", err)
	}
	cancel()
	<-done
}

// TestConfigErrors: a configuration without a channel or stream is
// refused at once.
func TestConfigErrors(t *testing.T) {
	if _, err := jetstream.NewReplicator(jetstream.ReplicateConfig{}); err == nil {
		t.Error("replicator without a channel")
	}
	if _, err := jetstream.NewMirrorer(jetstream.MirrorConfig{Volume: mmap.NewVolume("x")}); err == nil {
		t.Error("mirror without a stream")
	}
	if _, err := jetstream.NewMirrorer(jetstream.MirrorConfig{Stream: "x"}); err == nil {
		t.Error("mirror without a channel")
	}
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := jetstream.Replicate(short, jetstream.ReplicateConfig{Volume: mmap.NewFileVolume("/nonexistent/x.kekbit"), ChannelID: 1}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("replicating a missing file: %v, want it to wait for the file until ctx is done", err)
	}
	if jetstream.MsgID(0x2a, 16) != "000000000000002a:16" || jetstream.Subject(0x2a) != "kekbit.000000000000002a" || jetstream.StreamName(0x2a) != "KEKBIT_000000000000002a" {
		t.Error("names")
	}
}

// TestPathChannels: channels named by path, not by root and id.
func TestPathChannels(t *testing.T) {
	_, url := startServer(t)
	dir := shmDir(t)
	src := dir + "/source.kekbit"
	h := testHeader(t, 15, 1<<16, 100)
	var w *domain.Writer[[]byte]
	if _, err := mmap.CreateFile(src, h.FileSize(), func(st ports.Storage) error {
		var err error
		w, err = domain.NewWriter(st, h, codecs.Raw{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	writeRecords(w, 0, 300, false)
	w.Close()
	ctx := testCtx(t)
	if err := jetstream.Replicate(ctx, jetstream.ReplicateConfig{Volume: mmap.NewFileVolume(src), ChannelID: 15, URL: url}); err != nil {
		t.Fatal(err)
	}
	mir := dir + "/sub/mirror.kekbit"
	if err := jetstream.Mirror(ctx, jetstream.MirrorConfig{Volume: mmap.NewFileVolume(mir), Stream: jetstream.StreamName(15), URL: url, ChannelID: 15}); err != nil {
		t.Fatal(err)
	}
	sameChannels(t, src, mir)
	if err := jetstream.Mirror(ctx, jetstream.MirrorConfig{Volume: mmap.NewFileVolume(dir + "/other.kekbit"), Stream: jetstream.StreamName(15), URL: url, ChannelID: 16}); !errors.Is(err, jetstream.ErrMismatch) {
		t.Fatalf("mirror of the wrong channel id: %v", err)
	}
	if _, err := os.Stat(dir + "/other.kekbit"); err == nil {
		t.Fatal("a refused mirror left a file")
	}
}

// TestRecordAboveMaxPayload: a record larger than the server takes stops
// the replicator with an error saying so, rather than retrying forever.
func TestRecordAboveMaxPayload(t *testing.T) {
	opts := serverOptions(t.TempDir(), -1)
	opts.MaxPayload = 1024
	_, url := startServerWith(t, opts)
	src := shmDir(t)
	w, err := domain.Create(mmap.NewVolume(src), testHeader(t, 16, 1<<20, 4000), codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("small"))
	w.Write(make([]byte, 3000))
	w.Close()
	err = jetstream.Replicate(testCtx(t), jetstream.ReplicateConfig{Volume: mmap.NewVolume(src), ChannelID: 16, URL: url})
	if err == nil || !strings.Contains(err.Error(), "max_payload 1024") {
		t.Fatalf("got %v", err)
	}
}
