//go:build linux

package jetstream_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/journal"
	"github.com/kekbit-go/kekbit/replicate/jetstream"
)

// full reports whether the full "Show" counts run (KEKBIT_REPL_FULL=1).
func full() bool { return os.Getenv("KEKBIT_REPL_FULL") == "1" }

type journalRec struct {
	seq  uint64
	data []byte
}

// readJournal reads every record of the journal in dir, and how many
// segments it has.
func readJournal(t testing.TB, dir string) ([]journalRec, int) {
	t.Helper()
	vol := mmap.NewVolume(dir)
	ids, err := vol.List()
	if err != nil {
		t.Fatal(err)
	}
	r, err := journal.OpenReader(vol)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []journalRec
	for rec := range r.Records() {
		out = append(out, journalRec{rec.Seq, bytes.Clone(rec.Payload)})
	}
	if err := r.Err(); err != nil && !errors.Is(err, journal.ErrClosed) {
		t.Fatalf("reading journal %s: %v", dir, err)
	}
	return out, len(ids)
}

// sameJournals checks that the journal in dst holds the records of the
// one in src, record for record (payload and sequence number), from the
// first record dst holds, and that each segment of dst is the source's
// byte for byte (header, records with their envelopes, close trailer,
// journal end mark).
func sameJournals(t testing.TB, src, dst string) (records, segments int) {
	t.Helper()
	ids, err := mmap.NewVolume(dst).List()
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		sameChannels(t, mmap.ChannelPath(src, id), mmap.ChannelPath(dst, id))
	}
	a, _ := readJournal(t, src)
	b, segs := readJournal(t, dst)
	if len(b) == 0 || len(a) < len(b) {
		t.Fatalf("the source journal has %d records, the mirror %d", len(a), len(b))
	}
	a = a[len(a)-len(b):]
	for i := range a {
		if a[i].seq != b[i].seq || !bytes.Equal(a[i].data, b[i].data) {
			t.Fatalf("record %d: source seq %d %x, mirror seq %d %x", i, a[i].seq, a[i].data, b[i].seq, b[i].data)
		}
	}
	return len(b), segs
}

// journalWriter writes n records into the journal in dir, paced, with a
// heartbeat now and then, then waits for finish and closes the journal.
func journalWriter(dir string, n int, segmentSize uint32, finish <-chan struct{}) <-chan error {
	out := make(chan error, 1)
	go func() {
		w, err := journal.OpenWriter(mmap.NewVolume(dir), codecs.Raw{}, journal.WithSegmentSize(segmentSize))
		if err != nil {
			out <- err
			return
		}
		for i := range n {
			if _, err := w.Write(payloadOf(i)); err != nil {
				out <- fmt.Errorf("record %d: %w", i, err)
				return
			}
			if i%97 == 0 {
				w.Heartbeat()
			}
			if i%50 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
		<-finish
		out <- w.Close()
	}()
	return out
}

// TestJournalAcrossMachines replicates a journal that is being written
// (paced, rolling every few hundred records) into one stream while
// replicator processes are SIGKILLed at random moments, and mirrors the
// stream into a journal in another folder while mirror processes are
// SIGKILLed too; then the writer closes the journal and a last replicator
// and a last mirror run to its end. The mirror journal equals the source
// record for record (payloads and sequence numbers), and each segment
// file is the source's byte for byte.
// By default 20,000 records, 5 replicator and 3 mirror kills; with
// KEKBIT_REPL_FULL=1 200,000 records over 50+ segments, 20 and 10 kills.
func TestJournalAcrossMachines(t *testing.T) {
	if os.Getenv(childMode) != "" {
		t.Skip("in a child")
	}
	n, segSize, repKills, mirKills := 20_000, uint32(64<<10), 5, 3
	if full() {
		n, segSize, repKills, mirKills = 200_000, 256<<10, 20, 10
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	_, url := startServer(t)
	src, dst := shmDir(t), shmDir(t)
	finish := make(chan struct{})
	wrote := journalWriter(src, n, segSize, finish)
	// The stream is named after the journal's id, in its segments.
	var stream string
	for stream == "" {
		if ids, _ := mmap.NewVolume(src).List(); len(ids) > 0 {
			r, err := journal.OpenReader(mmap.NewVolume(src))
			if err != nil {
				t.Fatal(err)
			}
			stream = jetstream.JournalStreamName(r.JournalID())
			r.Close()
		}
		time.Sleep(time.Millisecond)
	}
	segments := func(dir string) func() string {
		return func() string {
			ids, _ := mmap.NewVolume(dir).List()
			return fmt.Sprintf("%d segments", len(ids))
		}
	}
	env := childStream + "=" + stream
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Go(func() {
		errs[0] = killRounds(repKills, 400*time.Millisecond, "replicate-journal", url, src, 0, rand.New(rand.NewPCG(seed, 3)), t.Logf, segments(src))
	})
	wg.Go(func() {
		errs[1] = killRounds(mirKills, 500*time.Millisecond, "mirror-journal", url, dst, 0, rand.New(rand.NewPCG(seed, 4)), t.Logf, segments(dst), env)
	})
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	close(finish)
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	runChild(t, "replicate-journal", url, src, 0)
	runChild(t, "mirror-journal", url, dst, 0, env)
	records, segs := sameJournals(t, src, dst)
	if records != n {
		t.Fatalf("%d records in the mirror journal, %d written", records, n)
	}
	_, srcSegs := readJournal(t, src)
	if segs != srcSegs {
		t.Fatalf("the mirror journal has %d segments, the source %d", segs, srcSegs)
	}
	t.Logf("%d records over %d segments, the mirror journal equal to the source", records, segs)
}

// TestJournalMirrorRetention: the mirror journal's retention is its own:
// a mirror that keeps 3 segments holds the source's last 3, record for
// record, while the source keeps them all; and a source whose retention
// drops segments after they are replicated leaves the mirror whole.
func TestJournalMirrorRetention(t *testing.T) {
	_, url := startServer(t)
	src, dst, dst2 := shmDir(t), shmDir(t), shmDir(t)
	ctx := testCtx(t)
	w, err := journal.OpenWriter(mmap.NewVolume(src), codecs.Raw{}, journal.WithSegmentSize(16<<10))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3000 {
		if _, err := w.Write(payloadOf(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var segs []uint64
	if err := jetstream.ReplicateJournal(ctx, jetstream.ReplicateJournalConfig{ReplicateConfig: jetstream.ReplicateConfig{Volume: mmap.NewVolume(src), URL: url},
		Segment: func(s uint64) { segs = append(segs, s) }}); err != nil {
		t.Fatal(err)
	}
	ids, _ := mmap.NewVolume(src).List()
	if len(ids) < 5 || fmt.Sprint(segs) != fmt.Sprint(ids) {
		t.Fatalf("segments %v replicated, the journal has %v", segs, ids)
	}
	stream := jetstream.JournalStreamName(w.JournalID())
	if err := jetstream.MirrorJournal(ctx, jetstream.MirrorJournalConfig{MirrorConfig: jetstream.MirrorConfig{Volume: mmap.NewVolume(dst), Stream: stream, URL: url},
		Retention: journal.Retention{MaxSegments: 3}}); err != nil {
		t.Fatal(err)
	}
	kept, _ := mmap.NewVolume(dst).List()
	if fmt.Sprint(kept) != fmt.Sprint(ids[len(ids)-3:]) {
		t.Fatalf("the mirror keeps segments %v of %v", kept, ids)
	}
	sameJournals(t, src, dst)
	// The source drops all but its last segment: the stream and a new
	// mirror are whole.
	if _, err := journal.Prune(mmap.NewVolume(src), nil, journal.Retention{MaxSegments: 1}); err != nil {
		t.Fatal(err)
	}
	if err := jetstream.ReplicateJournal(ctx, jetstream.ReplicateJournalConfig{ReplicateConfig: jetstream.ReplicateConfig{Volume: mmap.NewVolume(src), URL: url}}); err != nil {
		t.Fatal(err)
	}
	if err := jetstream.MirrorJournal(ctx, jetstream.MirrorJournalConfig{MirrorConfig: jetstream.MirrorConfig{Volume: mmap.NewVolume(dst2), Stream: stream, URL: url}}); err != nil {
		t.Fatal(err)
	}
	if recs, _ := readJournal(t, dst2); len(recs) != 3000 || recs[0].seq != 0 && recs[0].seq != 1 {
		t.Fatalf("the new mirror holds %d records", len(recs))
	}
}

// TestJournalReplicatorResumesAfterRoll: a replicator stopped (by its
// context) at random moments while the journal rolls resumes each time;
// a mirror started once the journal ended equals it.
func TestJournalReplicatorResumesAfterRoll(t *testing.T) {
	_, url := startServer(t)
	src, dst := shmDir(t), shmDir(t)
	finish := make(chan struct{})
	wrote := journalWriter(src, 5000, 16<<10, finish)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 5))
	for range 10 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rng.IntN(50))*time.Millisecond)
		err := jetstream.ReplicateJournal(ctx, jetstream.ReplicateJournalConfig{ReplicateConfig: jetstream.ReplicateConfig{Volume: mmap.NewVolume(src), URL: url}})
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatal(err)
		}
	}
	close(finish)
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	if err := jetstream.ReplicateJournal(ctx, jetstream.ReplicateJournalConfig{ReplicateConfig: jetstream.ReplicateConfig{Volume: mmap.NewVolume(src), URL: url}}); err != nil {
		t.Fatal(err)
	}
	r, err := journal.OpenReader(mmap.NewVolume(src))
	if err != nil {
		t.Fatal(err)
	}
	stream := jetstream.JournalStreamName(r.JournalID())
	r.Close()
	if err := jetstream.MirrorJournal(ctx, jetstream.MirrorJournalConfig{MirrorConfig: jetstream.MirrorConfig{Volume: mmap.NewVolume(dst), Stream: stream, URL: url}}); err != nil {
		t.Fatal(err)
	}
	if n, _ := sameJournals(t, src, dst); n != 5000 {
		t.Fatalf("%d records", n)
	}
}

// TestJournalOtherJournalRefused: a journal replicated into the stream of
// another journal (named by hand) is refused with ErrMismatch, both where
// the other's segment is open and where it ended.
func TestJournalOtherJournalRefused(t *testing.T) {
	_, url := startServer(t)
	ctx := testCtx(t)
	write := func(n int) string {
		dir := shmDir(t)
		w, err := journal.OpenWriter(mmap.NewVolume(dir), codecs.Raw{}, journal.WithSegmentSize(16<<10))
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if _, err := w.Write(payloadOf(i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	a, b, c := write(100), write(1000), write(50)
	cfg := jetstream.ReplicateJournalConfig{ReplicateConfig: jetstream.ReplicateConfig{URL: url, Stream: "SHARED", Subject: "kekbit.shared"}}
	cfg.Volume = mmap.NewVolume(a)
	if err := jetstream.ReplicateJournal(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	// a ended in its segment 0; b's segment 0 would follow nothing of
	// its own, and b's later segments would follow a's end.
	cfg.Volume = mmap.NewVolume(b)
	if err := jetstream.ReplicateJournal(ctx, cfg); !errors.Is(err, jetstream.ErrMismatch) {
		t.Fatalf("another journal into the stream: %v", err)
	}
	cfg.Volume = mmap.NewVolume(c)
	if err := jetstream.ReplicateJournal(ctx, cfg); !errors.Is(err, jetstream.ErrMismatch) {
		t.Fatalf("a third journal into the stream: %v", err)
	}
	// A mirror journal of b does not take a's stream on.
	bs := jetstream.JournalStreamName(func() domain.JournalID {
		r, err := journal.OpenReader(mmap.NewVolume(b))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		return r.JournalID()
	}())
	cfg.Volume, cfg.Stream, cfg.Subject = mmap.NewVolume(b), bs, ""
	if err := jetstream.ReplicateJournal(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	mir := shmDir(t)
	if err := jetstream.MirrorJournal(ctx, jetstream.MirrorJournalConfig{MirrorConfig: jetstream.MirrorConfig{Volume: mmap.NewVolume(mir), Stream: bs, URL: url}}); err != nil {
		t.Fatal(err)
	}
	ids, _ := mmap.NewVolume(mir).List()
	// Keep only b's segment 0, closed: its next would come from a's stream.
	for _, id := range ids[1:] {
		if err := mmap.NewVolume(mir).Remove(id); err != nil {
			t.Fatal(err)
		}
	}
	err := jetstream.MirrorJournal(ctx, jetstream.MirrorJournalConfig{MirrorConfig: jetstream.MirrorConfig{Volume: mmap.NewVolume(mir), Stream: "SHARED", URL: url}})
	if !errors.Is(err, jetstream.ErrMismatch) {
		t.Fatalf("mirroring another journal's stream into a mirror journal: %v", err)
	}
}

// TestSecondJournalReplicatorRefused: a second replicator of a journal
// into the same stream on the machine stops at once with
// ErrReplicatorRunning while the first runs.
func TestSecondJournalReplicatorRefused(t *testing.T) {
	_, url := startServer(t)
	src := shmDir(t)
	finish := make(chan struct{})
	wrote := journalWriter(src, 100, 16<<10, finish)
	ctx, cancel := context.WithCancel(testCtx(t))
	started := make(chan uint64, 1)
	first := make(chan error, 1)
	go func() {
		first <- jetstream.ReplicateJournal(ctx, jetstream.ReplicateJournalConfig{ReplicateConfig: jetstream.ReplicateConfig{Volume: mmap.NewVolume(src), URL: url},
			Segment: func(s uint64) {
				select {
				case started <- s:
				default:
				}
			}})
	}()
	<-started
	err := jetstream.ReplicateJournal(ctx, jetstream.ReplicateJournalConfig{ReplicateConfig: jetstream.ReplicateConfig{Volume: mmap.NewVolume(src), URL: url}})
	if !errors.Is(err, jetstream.ErrReplicatorRunning) {
		t.Fatalf("second replicator: %v", err)
	}
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	close(finish)
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
}

// TestJournalSegmentPrunedBeforeReplicated: a segment that retention
// removes between the journal replicator's choosing it and its opening
// (here: from the Segment callback) ends the replication with ErrMismatch
// naming it, instead of a wait for a segment that will never come.
func TestJournalSegmentPrunedBeforeReplicated(t *testing.T) {
	_, url := startServer(t)
	src := shmDir(t)
	w, err := journal.OpenWriter(mmap.NewVolume(src), codecs.Raw{}, journal.WithSegmentSize(16<<10))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3000 {
		if _, err := w.Write(payloadOf(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	ids, _ := mmap.NewVolume(src).List()
	if len(ids) < 4 {
		t.Fatalf("segments %v", ids)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = jetstream.ReplicateJournal(ctx, jetstream.ReplicateJournalConfig{ReplicateConfig: jetstream.ReplicateConfig{Volume: mmap.NewVolume(src), URL: url},
		Segment: func(s uint64) {
			if s == ids[2] { // the journal keeps only its last segment from now on
				if _, err := journal.Prune(mmap.NewVolume(src), nil, journal.Retention{MaxSegments: 1}); err != nil {
					t.Error(err)
				}
			}
		}})
	if !errors.Is(err, jetstream.ErrMismatch) || !strings.Contains(err.Error(), fmt.Sprintf("segment %d was removed", ids[2])) {
		t.Fatalf("ReplicateJournal: %v, want ErrMismatch naming segment %d", err, ids[2])
	}
}
