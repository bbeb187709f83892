//go:build linux

package journal_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/journal"
	"github.com/kekbit-go/kekbit/journal/positions"
)

// The process test: a writer and named readers in child processes (this
// test binary run again with KEKBIT_JOURNAL_CHILD set), readers and writer
// SIGKILLed and restarted at random moments. KEKBIT_JOURNAL_FULL=1 runs the
// issue's scale: 1,000,000 records of 10..1,000 bytes, 1 MiB segments, 3
// readers killed 20 times each, the writer killed 50 times.

type scale struct {
	records, segment, readers, readerKills, writerKills int
}

func processScale() scale {
	if os.Getenv("KEKBIT_JOURNAL_FULL") != "" {
		return scale{records: 1_000_000, segment: 1 << 20, readers: 3, readerKills: 20, writerKills: 50}
	}
	return scale{records: 30_000, segment: 256 << 10, readers: 3, readerKills: 5, writerKills: 5}
}

// procPayload is record seq's payload: 10..1,000 bytes that depend on seq.
func procPayload(seq uint64, buf []byte) []byte {
	n := 10 + int((seq*7919)%991)
	b := buf[:n]
	binary.LittleEndian.PutUint64(b, seq)
	for i := 8; i < n; i++ {
		b[i] = byte(seq>>3) + byte(i)
	}
	return b
}

func TestMain(m *testing.M) {
	switch os.Getenv("KEKBIT_JOURNAL_CHILD") {
	case "":
		os.Exit(m.Run())
	case "writer":
		os.Exit(childWriter())
	case "reader":
		os.Exit(childReader())
	case "bench-writer":
		os.Exit(childBenchWriter())
	}
	os.Exit(9)
}

func childEnv() (dir string, sc scale) {
	dir = os.Getenv("KEKBIT_JOURNAL_DIR")
	sc = processScale()
	return
}

func retentionPolicy() journal.Retention { return journal.Retention{MaxSegments: 2} }

// childWriter writes the records from where the journal stands to the
// last, in bursts, then closes the journal.
func childWriter() int {
	dir, sc := childEnv()
	w, err := journal.OpenWriter(mmap.NewVolume(dir), codecs.Raw{}, journal.WithSegmentSize(uint32(sc.segment)),
		journal.WithRetention(retentionPolicy()), journal.WithRecycle(true), journal.WithPositions(positions.NewMapped(filepath.Join(dir, "readers"))))
	if err != nil {
		fmt.Fprintln(os.Stderr, "writer:", err)
		return 1
	}
	// Nothing a reader saw may be lost: every record a reader logged is
	// before where the journal goes on (and a killed writer tears
	// nothing: the kernel keeps what it wrote to the mapping).
	if w.Dropped() != 0 {
		fmt.Fprintln(os.Stderr, "writer: opening dropped", w.Dropped(), "bytes")
		return 1
	}
	if seen, ok := lastLogged(dir); ok && w.NextSeq() <= seen {
		fmt.Fprintf(os.Stderr, "writer: the journal goes on at seq %d, but a reader logged %d\n", w.NextSeq(), seen)
		return 1
	}
	buf := make([]byte, 1024)
	for seq := w.NextSeq(); seq < uint64(sc.records); seq++ {
		if _, err := w.Write(procPayload(seq, buf)); err != nil {
			fmt.Fprintln(os.Stderr, "writer:", seq, err)
			return 1
		}
		if seq%64 == 0 {
			time.Sleep(50 * time.Microsecond) // so that kills land mid-journal
		}
	}
	if err := w.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "writer: close:", err)
		return 1
	}
	if err := noDeletedMappings(dir); err != nil {
		fmt.Fprintln(os.Stderr, "writer:", err)
		return 1
	}
	return 0
}

// lastLogged returns the largest sequence number any reader logged.
func lastLogged(dir string) (uint64, bool) {
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	var last uint64
	found := false
	for _, l := range logs {
		b, err := os.ReadFile(l)
		if err != nil || len(b) < 8 {
			continue
		}
		n := len(b) &^ 7
		if s := binary.LittleEndian.Uint64(b[n-8:]); !found || s > last {
			last, found = s, true
		}
	}
	return last, found
}

// childReader is named reader NAME: it checks every record (sequence
// number, bytes), appends the sequence numbers it handled to DIR/NAME.log
// (8 bytes each, in batches), then commits. After a kill it skips what its
// log holds that its position had not been committed past: so the log has
// every record exactly once if the journal delivers every record at least
// once, never skipping one.
func childReader() int {
	dir, _ := childEnv()
	name := os.Getenv("KEKBIT_JOURNAL_NAME")
	logPath := filepath.Join(dir, name+".log")
	logFile, err := os.OpenFile(logPath, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "reader:", err)
		return 1
	}
	st, _ := logFile.Stat()
	size := st.Size() &^ 7 // a write cut by the kill
	logFile.Truncate(size)
	last := int64(-1)
	if size > 0 {
		var b [8]byte
		logFile.ReadAt(b[:], size-8)
		last = int64(binary.LittleEndian.Uint64(b[:]))
	}
	logFile.Seek(size, 0)
	r, err := journal.OpenReader(mmap.NewVolume(dir), journal.WithName(positions.NewMapped(filepath.Join(dir, "readers")), name))
	if err != nil {
		fmt.Fprintln(os.Stderr, "reader:", err)
		return 1
	}
	batch := make([]byte, 0, 8*256)
	buf := make([]byte, 1024)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if _, err := logFile.Write(batch); err != nil {
			return err
		}
		batch = batch[:0]
		return r.Commit()
	}
	first := true
	err = r.Follow(context.Background(), func(rec journal.Record) error {
		if first && rec.Seq > uint64(last+1) {
			return fmt.Errorf("resumed at seq %d, after a gap: the log ends at %d", rec.Seq, last)
		}
		first = false
		if int64(rec.Seq) <= last {
			return nil // handled before the kill, not committed
		}
		if rec.Seq != uint64(last+1) {
			return fmt.Errorf("seq %d after %d", rec.Seq, last)
		}
		if want := procPayload(rec.Seq, buf); string(rec.Payload) != string(want) {
			return fmt.Errorf("record %d: %d bytes, crc %08x, want %d bytes, crc %08x", rec.Seq, len(rec.Payload), crc32.ChecksumIEEE(rec.Payload), len(want), crc32.ChecksumIEEE(want))
		}
		last++
		batch = binary.LittleEndian.AppendUint64(batch, rec.Seq)
		if len(batch) == cap(batch) {
			return flush()
		}
		return nil
	})
	if !errors.Is(err, journal.ErrClosed) {
		fmt.Fprintln(os.Stderr, "reader:", name, err)
		return 1
	}
	if err := flush(); err != nil {
		fmt.Fprintln(os.Stderr, "reader:", err)
		return 1
	}
	if err := noDeletedMappings(dir); err != nil {
		fmt.Fprintln(os.Stderr, "reader:", name, err)
		return 1
	}
	r.Close()
	return 0
}

// noDeletedMappings fails if this process still maps or holds open a file
// under dir that was removed.
func noDeletedMappings(dir string) error {
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return err
	}
	for _, l := range strings.Split(string(maps), "\n") {
		if strings.Contains(l, dir) && strings.HasSuffix(l, "(deleted)") {
			return fmt.Errorf("a removed segment is still mapped: %s", l)
		}
	}
	fds, _ := os.ReadDir("/proc/self/fd")
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(target, dir) && strings.HasSuffix(target, "(deleted)") {
			return fmt.Errorf("a removed segment is still open: fd %s -> %s", fd.Name(), target)
		}
	}
	return nil
}

type child struct {
	cmd  *exec.Cmd
	done chan error
	out  *strings.Builder
}

func startChild(t *testing.T, role, dir, name string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "KEKBIT_JOURNAL_CHILD="+role, "KEKBIT_JOURNAL_DIR="+dir, "KEKBIT_JOURNAL_NAME="+name)
	out := &strings.Builder{}
	cmd.Stderr, cmd.Stdout = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, done: make(chan error, 1), out: out}
	go func() { c.done <- cmd.Wait() }()
	return c
}

func (c *child) kill() { c.cmd.Process.Signal(syscall.SIGKILL); <-c.done }

func TestProcessKills(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes for seconds")
	}
	sc := processScale()
	dir := tempDir(t)
	vol := mmap.NewVolume(dir)
	pos := positions.NewMapped(filepath.Join(dir, "readers"))
	// The journal and each reader's position exist before the writer
	// starts, so that retention never drops what a reader has not read.
	w, err := journal.OpenWriter(vol, codecs.Raw{}, journal.WithSegmentSize(uint32(sc.segment)))
	if err != nil {
		t.Fatal(err)
	}
	w.Release()
	names := make([]string, sc.readers)
	for i := range names {
		names[i] = "reader" + strconv.Itoa(i)
		r, err := journal.OpenReader(vol, journal.WithName(pos, names[i]))
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Commit(); err != nil {
			t.Fatal(err)
		}
		r.Close()
	}
	rnd := rand.New(rand.NewSource(time.Now().UnixNano()))
	writer := startChild(t, "writer", dir, "")
	readers := make([]*child, sc.readers)
	for i := range readers {
		readers[i] = startChild(t, "reader", dir, names[i])
	}
	kills := make([]int, sc.readers)
	writerKills := 0
	writerDone := false
	deadline := time.Now().Add(10 * time.Minute)
	for !writerDone || sum(kills) < sc.readers*sc.readerKills {
		if time.Now().After(deadline) {
			t.Fatal("the process test ran too long")
		}
		time.Sleep(time.Duration(5+rnd.Intn(40)) * time.Millisecond)
		if !writerDone {
			select {
			case err := <-writer.done:
				if err != nil {
					t.Fatalf("writer: %v\n%s", err, writer.out)
				}
				writerDone = true
				continue
			default:
			}
			if writerKills < sc.writerKills && rnd.Intn(2) == 0 {
				writer.kill()
				writerKills++
				writer = startChild(t, "writer", dir, "")
				continue
			}
		}
		i := rnd.Intn(sc.readers)
		if kills[i] >= sc.readerKills {
			continue
		}
		select {
		case err := <-readers[i].done:
			// It finished: the journal is closed; restart it anyway, it
			// must read nothing twice.
			if err != nil {
				t.Fatalf("%s: %v\n%s", names[i], err, readers[i].out)
			}
		default:
			readers[i].kill()
		}
		kills[i]++
		readers[i] = startChild(t, "reader", dir, names[i])
	}
	for i, r := range readers {
		select {
		case err := <-r.done:
			if err != nil {
				t.Fatalf("%s: %v\n%s", names[i], err, r.out)
			}
		case <-time.After(5 * time.Minute):
			t.Fatalf("%s did not finish", names[i])
		}
	}
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(dir, name+".log"))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != 8*sc.records {
			t.Fatalf("%s logged %d records, want %d", name, len(b)/8, sc.records)
		}
		for i := 0; i < sc.records; i++ {
			if s := binary.LittleEndian.Uint64(b[8*i:]); s != uint64(i) {
				t.Fatalf("%s: entry %d is seq %d", name, i, s)
			}
		}
	}
	// The writer's retention dropped what every reader had passed while
	// it wrote; a last prune drops what they passed after its last roll.
	ids, _ := vol.List()
	if ids[0] == 0 {
		t.Fatalf("the writer's retention removed nothing: %d segments", len(ids))
	}
	removed, err := journal.Prune(vol, pos, retentionPolicy())
	if err != nil {
		t.Fatal(err)
	}
	left, _ := vol.List()
	t.Logf("%d records, %d readers killed %v times, writer killed %d times; segments %d..%d at the end, a last prune removed %v", sc.records, sc.readers, kills, writerKills, ids[0], ids[len(ids)-1], removed)
	if len(left) != retentionPolicy().MaxSegments {
		t.Fatalf("segments left: %v", left)
	}
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}
