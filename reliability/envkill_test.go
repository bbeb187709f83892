//go:build linux

package reliability_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit"
	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
)

// Channels of the killed enveloped writer: 256 KiB, records of up to
// damageMaxBody bytes with the whole envelope, a sequence base far from 0.
const (
	envKillCapacity = 1 << 18
	envKillSeqBase  = 1 << 40
	// envKillRoom is what the writer leaves free, so that the channel can
	// go on after it is resumed.
	envKillRoom = 8192
)

func envKillHeader(id uint64) (domain.Header, error) {
	return domain.NewHeader(domain.Hints{
		WriterID: uint64(os.Getpid()), ChannelID: id, Capacity: envKillCapacity,
		MaxMsgLen: damageMaxBody, Timeout: 200, TickUnit: domain.Millis,
		Envelope: domain.EnvelopeAll, SeqBase: envKillSeqBase,
	})
}

// envWriterProcess creates an enveloped channel and writes record i with
// the payload envPayload(seed, i), in bursts of 1..16 records (a heartbeat
// now and then) with a pause of up to 200 µs after each, until it is
// killed. It prints "ready" once the channel is created. When envKillRoom
// bytes are left it stops and waits for the kill.
func envWriterProcess() error {
	id, err := envUint(envID)
	if err != nil {
		return err
	}
	seed, err := envUint(envSeed)
	if err != nil {
		return err
	}
	h, err := envKillHeader(id)
	if err != nil {
		return err
	}
	w, err := domain.Create(mmap.NewVolume(os.Getenv(envRoot)), h, codecs.Raw{})
	if err != nil {
		return err
	}
	say("ready")
	rng := rand.New(rand.NewPCG(seed, 0xE4F))
	for i := uint64(0); ; {
		for range 1 + rng.IntN(16) {
			if w.Available() < envKillRoom {
				time.Sleep(time.Hour) // full enough: wait for the kill
			}
			if rng.IntN(12) == 0 {
				if _, err := w.Heartbeat(); err != nil {
					return err
				}
			}
			if _, err := w.Write(envPayload(seed, i)); err != nil {
				return fmt.Errorf("record %d: %w", i, err)
			}
			i++
		}
		time.Sleep(time.Duration(rng.IntN(200)) * time.Microsecond)
	}
}

// envKills returns how many times TestEnvelopeTornTailRepair kills the
// writer.
func envKills(t *testing.T) int {
	if s := os.Getenv("KEKBIT_KILLS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("KEKBIT_KILLS=%q: want a positive number", s)
		}
		return n
	}
	if long() {
		return 1000
	}
	return 200
}

// repairTally sums up the kills.
type repairTally struct {
	kills, written, kept, continued int
	lostRecords                     int            // records after the damage that Resume dropped
	droppedBytes                    uint64         // what Dropped said, summed
	outcomes                        map[string]int // what the zeroed page took
}

// TestEnvelopeTornTailRepair SIGKILLs a writer of an enveloped channel at
// 200 random moments (KEKBIT_LONG=1: 1,000; KEKBIT_KILLS=n), and each time
// zeroes a page of the tail of its file as well, the page holding one of
// the last records written or the word after them (what a lost writeback
// leaves: the writer never calls Flush). kekbit.Resume then must keep
// exactly the good prefix (every record wholly before the first record the
// zeroing changed, by payload and sequence number), overwrite everything
// written after it with the watermark, and carry on: more records are
// written and the channel closed, and a reader reads the prefix and the
// new records with consecutive sequence numbers, and ends closed.
func TestEnvelopeTornTailRepair(t *testing.T) {
	n := envKills(t)
	base := shmRoot(t)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("KEKBIT_KILL_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 0, 64); err != nil {
			t.Fatalf("KEKBIT_KILL_SEED=%q: %v", s, err)
		}
	}
	t.Logf("seed %d (KEKBIT_KILL_SEED repeats it), %d kills", seed, n)
	rng := rand.New(rand.NewPCG(seed, 2))
	start := time.Now()
	tally := repairTally{outcomes: map[string]int{}}
	for i := range n {
		root := filepath.Join(base, strconv.Itoa(i))
		repairOnce(t, root, uint64(i)+1, rng, &tally)
		if t.Failed() {
			t.Fatalf("kill %d failed (KEKBIT_KILL_SEED=%d)", i, seed)
		}
		os.RemoveAll(root)
	}
	t.Logf("%d kills in %v: %d records written before the kills, %d kept, %d dropped with the zeroed page (%d bytes dropped in all); %d records written after resuming; the zeroed page took: %v",
		tally.kills, time.Since(start).Round(time.Millisecond), tally.written, tally.kept, tally.lostRecords,
		tally.droppedBytes, tally.continued, tally.outcomes)
	if tally.lostRecords == 0 || tally.outcomes["records"] == 0 {
		t.Errorf("no kill had a record zeroed: the test did not test repair")
	}
}

// repairOnce kills one writer, zeroes a page of its tail, resumes the
// channel, continues and reads it.
func repairOnce(t *testing.T, root string, id uint64, rng *rand.Rand, tally *repairTally) {
	t.Helper()
	wseed := rng.Uint64()
	w := startHelper(t, "env-writer", envRoot+"="+root, envID+"="+strconv.FormatUint(id, 10),
		envSeed+"="+strconv.FormatUint(wseed, 10))
	select {
	case <-w.ready:
	case <-w.done:
		t.Fatalf("writer ended before it was ready: %s", w.describe())
	case <-time.After(followDeadline):
		t.Fatalf("writer not ready after %v: %s", followDeadline, w.describe())
	}
	time.Sleep(time.Duration(rng.IntN(12_000)) * time.Microsecond)
	w.cmd.Process.Kill()
	if err := w.wait(); w.cmd.ProcessState == nil || w.cmd.ProcessState.ExitCode() != -1 {
		t.Fatalf("writer did not die of the kill: %v; %s", err, w.describe())
	}
	vol := mmap.NewVolume(root)
	path := vol.Path(id)
	img, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	// What the kill left: every record whole and verified, nothing torn.
	left := readEnveloped(memory.FromImage(bytes.Clone(img)))
	if left.panic != nil || left.headerErr != nil || left.end != nil {
		t.Fatalf("the killed writer's file reads as %v", left)
	}
	for i, r := range left.recs {
		if r.seq != envKillSeqBase+uint64(i) || !bytes.Equal(r.payload, envPayload(wseed, uint64(i))) {
			t.Fatalf("record %d of the killed writer is %v, not as written", i, r)
		}
	}
	k0 := len(left.recs)
	end := uint64(8) // the writer's end: after the last record or heartbeat
	for p := end; ; {
		word := binary.LittleEndian.Uint64(img[domain.DataOffset+p:])
		if word == domain.Watermark {
			end = p
			break
		}
		p += domain.RecordSize(word)
	}

	// Zero the page holding one of the last three records (a random byte
	// of it), or the word after them, the data region's part of it.
	off := domain.DataOffset + end
	if k0 > 0 && rng.IntN(4) != 0 {
		r := left.recs[k0-1-rng.IntN(min(3, k0))]
		off = domain.DataOffset + r.pos + uint64(rng.IntN(int(domain.RecordSize(domain.EnvelopeAll.Len()+uint64(len(r.payload))))))
	}
	lo, hi := max(off&^(pageSize-1), domain.DataOffset), min(off&^(pageSize-1)+pageSize, uint64(len(img)))
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, hi-lo), int64(lo)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	damaged := bytes.Clone(img)
	clear(damaged[lo:hi])

	// The good prefix: the records before the first one the zeroing changed.
	kp := k0
	for i, r := range left.recs {
		a := domain.DataOffset + r.pos
		b := a + domain.RecordSize(domain.EnvelopeAll.Len()+uint64(len(r.payload)))
		if !bytes.Equal(img[a:b], damaged[a:b]) {
			kp = i
			break
		}
	}
	keptEnd := uint64(8) // where the good prefix ends
	if kp > 0 {
		r := left.recs[kp-1]
		keptEnd = r.pos + domain.RecordSize(domain.EnvelopeAll.Len()+uint64(len(r.payload)))
	}
	switch {
	case bytes.Equal(img, damaged):
		tally.outcomes["nothing (already zero)"]++
	case kp < k0:
		tally.outcomes["records"]++
	default:
		tally.outcomes["only the end marker or what followed"]++
	}

	// Resume: exactly the good prefix, the rest overwritten.
	rw, err := kekbit.Resume(vol, id, codecs.Raw{})
	if err != nil {
		t.Fatalf("%d records, page %d..%d zeroed (the good prefix: %d records, to position %d): Resume: %v",
			k0, lo, hi, kp, keptEnd, err)
	}
	what := fmt.Sprintf("%d records, file bytes %d..%d zeroed (the good prefix: %d records, to position %d), resumed at %d with %d records, %d bytes dropped",
		k0, lo, hi, kp, keptEnd, rw.WriteOffset(), rw.Records(), rw.Dropped())
	p := uint64(rw.WriteOffset())
	if rw.Records() != uint64(kp) || p < keptEnd || p > max(keptEnd, end) {
		rw.Release()
		t.Fatalf("%s: want the %d records of the good prefix", what, kp)
	}
	if kp < k0 && rw.Dropped() == 0 {
		// Zeros are heartbeats: a span of zeros (the zeroed page, with
		// any zero words of the record it cut that follow it) that holds
		// whole records and ends exactly where the writer's watermark is
		// leaves nothing to tell, before a close (the close trailer tells
		// it after one). Any other loss must be dropped and said.
		if !allZero(damaged[domain.DataOffset+keptEnd:domain.DataOffset+p]) ||
			binary.LittleEndian.Uint64(damaged[domain.DataOffset+p:]) != domain.Watermark {
			rw.Release()
			t.Fatalf("%s: records dropped, but Dropped says 0", what)
		}
		tally.outcomes["whole records up to the watermark (nothing to tell)"]++
	}
	now, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The writer's progress mark is Resume's to update; the rest of the
	// kept prefix must stay as it was.
	copy(damaged[domain.ProgressOffset:domain.ProgressOffset+8], now[domain.ProgressOffset:])
	if !bytes.Equal(now[:domain.DataOffset+p], damaged[:domain.DataOffset+p]) {
		rw.Release()
		t.Fatalf("%s: Resume changed the kept prefix (at file byte %d)", what, firstChanged(now, damaged))
	}
	for q := p; q+8 <= envKillCapacity; q += 8 {
		if word := binary.LittleEndian.Uint64(now[domain.DataOffset+q:]); word != 0 && word != domain.Watermark {
			rw.Release()
			t.Fatalf("%s: word %#x left at position %d after the resume position", what, word, q)
		}
	}
	if word := binary.LittleEndian.Uint64(now[domain.DataOffset+p:]); word != domain.Watermark {
		rw.Release()
		t.Fatalf("%s: the word at the resume position is %#x, not the watermark", what, word)
	}

	// Carry on, close, read it all.
	more := 1 + rng.IntN(24)
	for i := range more {
		if _, err := rw.Write(envPayload(wseed+1, uint64(kp+i))); err != nil {
			t.Fatalf("%s: writing record %d after the resume: %v", what, kp+i, err)
		}
	}
	if err := rw.Close(); err != nil {
		t.Fatalf("%s: Close: %v", what, err)
	}
	r, err := kekbit.Open(vol, id)
	if err != nil {
		t.Fatalf("%s: Open after the resume: %v", what, err)
	}
	defer r.Close()
	lo0, hi0 := uint64(time.Now().Add(-time.Hour).UnixMilli()), uint64(time.Now().Add(time.Hour).UnixMilli())
	i := 0
	for rec := range r.Records() {
		want := envPayload(wseed, uint64(i))
		if i >= kp {
			want = envPayload(wseed+1, uint64(i))
		}
		if r.Seq() != envKillSeqBase+uint64(i) || !bytes.Equal(rec.Payload, want) || r.Time() < lo0 || r.Time() > hi0 {
			t.Fatalf("%s: record %d read back is seq %d time %d, %d bytes; want seq %d, %d bytes", what, i, r.Seq(), r.Time(), len(rec.Payload), envKillSeqBase+uint64(i), len(want))
		}
		i++
	}
	if i != kp+more || !errors.Is(r.Err(), kekbit.ErrClosed) {
		t.Fatalf("%s: %d records read back, then %v; want %d, then closed", what, i, r.Err(), kp+more)
	}
	tally.kills++
	tally.written += k0
	tally.kept += kp
	tally.lostRecords += k0 - kp
	tally.droppedBytes += rw.Dropped()
	tally.continued += more
}

// allZero reports whether b holds only zero bytes.
func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
