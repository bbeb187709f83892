//go:build linux

package reliability_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/adapters/mmap"
)

// TestWriterKilledUnderFollowers SIGKILLs a writer process 200 times
// (KEKBIT_KILLS=n for another count) while it writes, each time with 4
// followers in this process reading the channel live from its first
// record: every follower reads every record the writer published, whole
// (checksum), once and in order (sequence numbers), and ends with the
// writer gone at the same position as a reader that opens the channel
// afterwards. No partial, duplicated or missing record, no hang.
func TestWriterKilledUnderFollowers(t *testing.T) {
	n := 200
	if s := os.Getenv("KEKBIT_KILLS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 1 {
			t.Fatalf("KEKBIT_KILLS=%q: want a positive number", s)
		}
	}
	const followers = 4
	base := shmRoot(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d, %d kills, %d followers", seed, n, followers)
	start := time.Now()
	var records uint64
	for i := range n {
		root := filepath.Join(base, strconv.Itoa(i))
		id := uint64(i) + 1
		vol := mmap.NewVolume(root)
		w := startHelper(t, "writer", envRoot+"="+root, envID+"="+strconv.FormatUint(id, 10),
			envSeed+"="+strconv.FormatUint(seed+uint64(i), 10))
		select {
		case <-w.ready:
		case <-w.done:
			t.Fatalf("kill %d: the writer ended before it was ready: %s", i, w.describe())
		case <-time.After(followDeadline):
			t.Fatalf("kill %d: the writer never got ready", i)
		}
		verdicts := make(chan string, followers)
		for range followers {
			go func() { verdicts <- followVerdict(vol, id) }()
		}
		time.Sleep(time.Duration(i%20) * time.Millisecond) // 0..19 ms of writing
		w.cmd.Process.Kill()
		if err := w.wait(); err == nil || !strings.Contains(err.Error(), "killed") {
			t.Fatalf("kill %d: the writer did not die of the kill: %v; %s", i, err, w.describe())
		}
		after := followVerdict(vol, id)
		if !strings.HasPrefix(after, "read ") {
			t.Fatalf("kill %d: the reader afterwards: %s", i, after)
		}
		for f := range followers {
			select {
			case v := <-verdicts:
				if v != after {
					t.Fatalf("kill %d: follower %d: %q; the reader afterwards: %q", i, f, v, after)
				}
			case <-time.After(followDeadline):
				t.Fatalf("kill %d: follower %d hangs", i, f)
			}
		}
		fields := strings.Fields(after) // read N end position
		if fields[2] != "writer-gone" {
			t.Fatalf("kill %d: the follows ended %q, not with the writer gone: the kill did not land while it wrote", i, after)
		}
		got, _ := strconv.ParseUint(fields[1], 10, 64)
		records += got
		os.RemoveAll(root)
	}
	t.Logf("%d kills under %d followers in %v: %d records, each read whole, once and in order by every follower",
		n, followers, time.Since(start).Round(time.Millisecond), records)
}
