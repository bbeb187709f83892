//go:build linux

package reliability_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/ports"
)

// Channels of the killed writer: 1 MiB, records of up to 4000 bytes, a
// timeout of 200 ms.
const (
	killCapacity  = 1 << 20
	killMaxMsg    = 4000
	killTimeoutMs = 200
)

func killHeader(id uint64) (domain.Header, error) {
	return domain.NewHeader(domain.Hints{
		WriterID: uint64(os.Getpid()), ChannelID: id, Capacity: killCapacity,
		MaxMsgLen: killMaxMsg, Timeout: killTimeoutMs, TickUnit: domain.Millis,
	})
}

// writerProcess creates the channel and writes checksummed records in
// bursts, with a heartbeat now and then and a short pause after each
// burst, until it is killed. It prints "ready" once the channel is created
// and "pub N" after each burst, N the records written so far. Near the end
// of the channel it stops writing and waits to be killed, so that the
// channel never fills.
func writerProcess() error {
	id, err := envUint(envID)
	if err != nil {
		return err
	}
	seed, err := envUint(envSeed)
	if err != nil {
		return err
	}
	h, err := killHeader(id)
	if err != nil {
		return err
	}
	w, err := domain.Create(mmap.NewVolume(os.Getenv(envRoot)), h, codecs.Raw{})
	if err != nil {
		return err
	}
	say("ready")
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	maxBody := int(h.MaxMsgLen) - recordOverhead
	buf := make([]byte, 0, h.MaxMsgLen)
	var seq uint64
	for {
		for range 1 + rng.IntN(32) {
			if w.Available() < h.MaxMsgLen+64 {
				time.Sleep(time.Hour) // full enough: wait for the kill
			}
			n := rng.IntN(65)
			if rng.IntN(8) == 0 {
				n = rng.IntN(maxBody + 1)
			}
			buf = makeRecord(buf, seq, n, rng)
			if _, err := w.Write(buf); err != nil {
				return fmt.Errorf("record %d: %w", seq, err)
			}
			seq++
			if rng.IntN(16) == 0 {
				if _, err := w.Heartbeat(); err != nil {
					return fmt.Errorf("heartbeat after record %d: %w", seq, err)
				}
			}
		}
		say("pub %d", seq)
		time.Sleep(time.Duration(rng.IntN(300)) * time.Microsecond)
	}
}

// readerProcess opens the channel, follows it to its end and prints its
// verdict: "notfound", "notready", "read N END POS" (N records verified,
// END the sentinel the follow ended with, POS the reader's position) or
// "bad ..." for anything wrong.
func readerProcess() error {
	id, err := envUint(envID)
	if err != nil {
		return err
	}
	say("%s%s", verdictPrefix, followVerdict(mmap.NewVolume(os.Getenv(envRoot)), id))
	return nil
}

// followVerdict opens channel id of vol, follows it to its end and says
// what it found, as readerProcess prints it.
func followVerdict(vol *mmap.Volume, id uint64) string {
	r, err := domain.Open(vol, id, domain.WithWait(fastWait))
	switch {
	case errors.Is(err, ports.ErrChannelNotFound):
		return "notfound"
	case errors.Is(err, ports.ErrChannelNotReady):
		return "notready"
	case err != nil:
		return "bad open: " + err.Error()
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), followDeadline)
	defer cancel()
	var v verifier
	err = r.Follow(ctx, v.handle)
	if v.err != nil {
		return "bad record: " + v.err.Error()
	}
	if !errors.Is(err, domain.ErrWriterGone) && !errors.Is(err, domain.ErrTimeout) {
		return fmt.Sprintf("bad end after %d records: %v", v.next, err)
	}
	var re *domain.ReadError
	if !errors.As(err, &re) || re.Position != r.Position() {
		return fmt.Sprintf("bad end position: %v, reader at %d", err, r.Position())
	}
	return fmt.Sprintf("read %d %s %d", v.next, sentinel(err), r.Position())
}

// timeoutVerdict reads a copy of the channel file at path through the
// memory backend, which cannot tell whether the writer is alive: the
// follow must end with the header's timeout, and not before it has passed.
// It returns a verdict as followVerdict does.
func timeoutVerdict(t *testing.T, path string) string {
	t.Helper()
	img, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := domain.NewReader(memory.FromImage(img), domain.WithWait(fastWait))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), followDeadline)
	defer cancel()
	var v verifier
	start := time.Now()
	err = r.Follow(ctx, v.handle)
	took := time.Since(start)
	if v.err != nil {
		t.Fatalf("reading the file's image: %v", v.err)
	}
	if !errors.Is(err, domain.ErrTimeout) {
		t.Fatalf("reading the file's image: %d records, then %v; want ErrTimeout", v.next, err)
	}
	if timeout := r.Header().TimeoutDuration(); took < timeout {
		t.Fatalf("timed out after %v, before the header's timeout of %v", took, timeout)
	}
	return fmt.Sprintf("read %d %s %d", v.next, sentinel(err), r.Position())
}

// shmRoot returns a fresh folder for channels, under /dev/shm when it can
// (RAM speed, no disk writes), else under t.TempDir; it is removed at the
// end of the test.
func shmRoot(t *testing.T) string {
	t.Helper()
	if dir, err := os.MkdirTemp("/dev/shm", "kekbit-reliability-"); err == nil {
		t.Cleanup(func() { os.RemoveAll(dir) })
		return dir
	}
	return t.TempDir()
}

// kills returns how many times TestWriterKilled kills the writer.
func kills(t *testing.T) int {
	if s := os.Getenv("KEKBIT_KILLS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("KEKBIT_KILLS=%q: want a positive number", s)
		}
		return n
	}
	if long() {
		return 500
	}
	return 60
}

// When the writer is killed.
const (
	killEarly    = iota // a few milliseconds after it starts: usually before the channel exists
	killCreating        // as soon as the lock file appears: the channel is being created
	killWriting         // a random while after the channel is ready, with a reader following
	killWhens
)

var killWhenNames = [killWhens]string{"early", "creating", "writing"}

// TestWriterKilled SIGKILLs a writer process at random moments and reads
// what it left, in this process and in another: every record it published
// is read whole, in order and with a good checksum, and the read ends with
// the writer gone or timed out, never corrupt, never a hang. A writer
// killed while creating the channel leaves its lock file: the channel then
// never opens (ports.ErrChannelNotReady, with mmap.ErrCreatorGone), and a
// new writer takes the id over.
func TestWriterKilled(t *testing.T) {
	n := kills(t)
	base := shmRoot(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d, %d kills", seed, n)
	rng := rand.New(rand.NewPCG(seed, 1))
	start := time.Now()
	outcomes := map[string]int{}
	var records uint64
	for i := range n {
		when := i % killWhens
		root := filepath.Join(base, strconv.Itoa(i))
		outcome, got := killOnce(t, root, uint64(i)+1, when, i%7 == 2, rng)
		if t.Failed() {
			t.Fatalf("kill %d (%s, seed %d) failed", i, killWhenNames[when], seed)
		}
		outcomes[killWhenNames[when]+"/"+outcome]++
		records += got
		os.RemoveAll(root)
	}
	t.Logf("%d kills survived in %v, %d records verified; outcomes (when/what): %v",
		n, time.Since(start).Round(time.Millisecond), records, outcomes)
}

// killOnce starts a writer, kills it at the moment when says, and checks
// what readers find. It returns the outcome ("notfound", "notready",
// "read") and the records read.
func killOnce(t *testing.T, root string, id uint64, when int, timeoutRead bool, rng *rand.Rand) (string, uint64) {
	t.Helper()
	vol := mmap.NewVolume(root)
	path := vol.Path(id)
	w := startHelper(t, "writer", envRoot+"="+root, envID+"="+strconv.FormatUint(id, 10),
		envSeed+"="+strconv.FormatUint(rng.Uint64(), 10))

	// When the writer is killed while writing, a reader in this process
	// follows the channel live through the kill.
	var live chan string
	switch when {
	case killEarly:
		time.Sleep(time.Duration(rng.IntN(1000)) * time.Microsecond)
	case killCreating:
		deadline := time.Now().Add(followDeadline)
	poll:
		for time.Now().Before(deadline) {
			if _, err := os.Lstat(mmap.LockPath(path)); err == nil {
				break
			}
			select {
			case <-w.ready: // created before we saw the lock file
				break poll
			case <-w.done: // the writer died on its own: reported below
				break poll
			default:
			}
		}
	case killWriting:
		select {
		case <-w.ready:
		case <-w.done:
		case <-time.After(followDeadline):
		}
		live = make(chan string, 1)
		go func() { live <- followVerdict(vol, id) }()
		time.Sleep(time.Duration(rng.IntN(30_000)) * time.Microsecond)
	}
	w.cmd.Process.Kill()
	werr := w.wait()
	if st := w.cmd.ProcessState; werr == nil || st == nil || st.ExitCode() != -1 || !strings.Contains(werr.Error(), "killed") {
		t.Fatalf("writer did not die of the kill: %v; %s", werr, w.describe())
	}
	ready, published := false, uint64(0)
	for _, l := range w.output() {
		if l == "ready" {
			ready = true
		}
		if s, ok := strings.CutPrefix(l, "pub "); ok {
			published, _ = strconv.ParseUint(s, 10, 64)
		}
	}

	// The post-mortem: a reader in another process and one in this one.
	rp := startHelper(t, "reader", envRoot+"="+root, envID+"="+strconv.FormatUint(id, 10))
	here := followVerdict(vol, id)
	if exited, err := rp.waitTimeout(followDeadline + 10*time.Second); !exited || err != nil {
		t.Fatalf("reader process: exited %v, %v; %s", exited, err, rp.describe())
	}
	there, ok := rp.verdict()
	if !ok {
		t.Fatalf("reader process gave no verdict: %s", rp.describe())
	}
	if here != there {
		t.Errorf("reader here: %q, reader in another process: %q", here, there)
	}
	if live != nil {
		if lv := <-live; lv != here && (ready || !(lv == "notfound" || lv == "notready")) {
			t.Errorf("live reader: %q, reader afterwards: %q", lv, here)
		}
	}

	fields := strings.Fields(here)
	switch {
	case len(fields) == 0:
		t.Fatalf("empty verdict")
	case fields[0] == "notfound" || fields[0] == "notready":
		if ready {
			t.Fatalf("the writer said the channel was ready, readers say %q", here)
		}
		_, lockErr := os.Lstat(mmap.LockPath(path))
		if fields[0] == "notready" && lockErr != nil {
			t.Fatalf("not ready, but no lock file: %v", lockErr)
		}
		if fields[0] == "notfound" && lockErr == nil {
			t.Fatalf("not found, but the lock file exists")
		}
		// What a killed creator left is not listed, and a new writer takes
		// the id over.
		if fields[0] == "notready" {
			if ids, err := vol.List(); err != nil || len(ids) != 0 {
				t.Fatalf("List() = %v, %v with only a half-created channel", ids, err)
			}
			if _, err := vol.Open(id); !errors.Is(err, mmap.ErrCreatorGone) {
				t.Fatalf("Open of a channel whose creator was killed: %v, want ErrCreatorGone", err)
			}
			h, _ := killHeader(id)
			w, err := domain.Create(vol, h, codecs.Raw{})
			if err != nil {
				t.Fatalf("creating a channel whose creator was killed: %v, want the id taken over", err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if ids, err := vol.List(); err != nil || len(ids) != 1 || ids[0] != id {
				t.Fatalf("List() = %v, %v after the id was taken over", ids, err)
			}
		}
		return fields[0], 0
	case fields[0] == "read" && len(fields) == 4:
		got, _ := strconv.ParseUint(fields[1], 10, 64)
		if got < published {
			t.Fatalf("read %d records, the writer reported %d published", got, published)
		}
		if timeoutRead {
			// The file's bytes read without liveness: the same records,
			// then a timeout, never before the header's.
			if tv := timeoutVerdict(t, path); tv != strings.Join([]string{"read", fields[1], "timeout", fields[3]}, " ") {
				t.Fatalf("reading the file's image: %q, reading the channel: %q", tv, here)
			}
			return "read+timeout", got
		}
		return "read", got
	}
	t.Fatalf("reader: %s; writer: %s", here, w.describe())
	return "", 0
}
