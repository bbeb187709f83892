package main_test

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
)

func journalDir(t *testing.T) string {
	t.Helper()
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		d, err := os.MkdirTemp("/dev/shm", "kekbit-cmd-journal-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(d) })
		return d
	}
	return t.TempDir()
}

func lines(from, to int) []byte {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	return []byte(b.String())
}

func TestJournalCommands(t *testing.T) {
	dir := journalDir(t)
	if _, errs, code := run(t, lines(0, 3000), "journal", "write", "--segment-size", "16384", dir); code != 0 {
		t.Fatalf("journal write: %d %s", code, errs)
	}
	out, errs, code := run(t, nil, "journal", "ls", "--json", dir)
	if code != 0 {
		t.Fatalf("journal ls: %d %s", code, errs)
	}
	var l struct {
		Journal  string
		Segments []struct {
			Segment  uint64
			FirstSeq uint64 `json:"first_seq"`
			Closed   bool
			Ended    bool
		}
		Readers []struct {
			Name       string
			LagRecords uint64 `json:"lag_records"`
		}
	}
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatalf("ls --json: %v: %s", err, out)
	}
	if len(l.Journal) != 32 || len(l.Segments) < 5 || !l.Segments[len(l.Segments)-1].Ended || l.Segments[0].FirstSeq != 0 {
		t.Fatalf("ls: %+v", l)
	}
	// A named reader reads everything once, then nothing.
	out, _, code = run(t, nil, "journal", "dump", "--reader", "audit", dir)
	got := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(got) != 3001 || !strings.HasSuffix(got[0], " line 0") || !strings.HasSuffix(got[2999], " line 2999") || !strings.HasPrefix(got[3000], "end closed at ") {
		t.Fatalf("dump --reader: %d, %d lines, first %q last %q", code, len(got), got[0], got[len(got)-1])
	}
	out, _, _ = run(t, nil, "journal", "dump", "--reader", "audit", dir)
	if strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, "end closed") {
		t.Fatalf("second dump --reader: %q", out)
	}
	// More input: the journal goes on; the reader sees only what is new.
	run(t, lines(3000, 3010), "journal", "write", dir)
	out, _, _ = run(t, nil, "journal", "dump", "--reader", "audit", "--json", dir)
	recs := strings.Split(strings.TrimSpace(out), "\n")
	var first struct {
		Seq  uint64
		Data []byte
	}
	json.Unmarshal([]byte(recs[0]), &first)
	if len(recs) != 11 || first.Seq != 3000 || string(first.Data) != "line 3000" {
		t.Fatalf("dump after the reopen: %d lines, first %+v", len(recs), first)
	}
	out, _, _ = run(t, nil, "journal", "dump", "--from-seq", "2999", dir)
	if !strings.HasPrefix(out, "2999 ") || strings.Count(out, "\n") != 12 {
		t.Fatalf("--from-seq 2999: %q", out)
	}
	// Prune: audit has passed everything, so all but the last go.
	out, _, code = run(t, nil, "journal", "prune", "--max-segments", "1", dir)
	if code != 0 || strings.Count(out, "removed segment") != len(l.Segments) {
		t.Fatalf("prune: %d %q (of %d segments, one more after the reopen)", code, out, len(l.Segments))
	}
	out, _, _ = run(t, nil, "journal", "ls", dir)
	if !strings.Contains(out, "reader audit at ") || !strings.Contains(out, "lag 0 records") {
		t.Fatalf("ls after prune: %s", out)
	}
	// Usage errors exit 2.
	if _, _, code := run(t, nil, "journal", "dump", "--from-seq", "1", "--from-time", "2026-01-01T00:00:00Z", dir); code != 2 {
		t.Fatalf("--from-seq with --from-time: exit %d", code)
	}
	if _, _, code := run(t, nil, "journal", "dump"); code != 2 {
		t.Fatalf("dump without DIR: exit %d", code)
	}
	// A bad reader name is an error (exit 1).
	if _, _, code := run(t, nil, "journal", "dump", "--reader", "../x", dir); code != 1 {
		t.Fatalf("bad reader name: exit %d", code)
	}
}

// TestJournalWriteRecycle: journal write --recycle with retention keeps
// at most the retained segments (and the spare waiting to be recycled),
// and the journal reads back the newest records in order.
func TestJournalWriteRecycle(t *testing.T) {
	dir := journalDir(t)
	if _, errs, code := run(t, lines(0, 20000), "journal", "write", "--segment-size", "16384", "--max-segments", "3", "--force", "--recycle", dir); code != 0 {
		t.Fatalf("journal write --recycle: %d %s", code, errs)
	}
	out, errs, code := run(t, nil, "journal", "ls", "--json", dir)
	if code != 0 {
		t.Fatalf("journal ls: %d %s", code, errs)
	}
	var l struct{ Segments []struct{ Segment uint64 } }
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatalf("ls --json: %v: %s", err, out)
	}
	if n := len(l.Segments); n < 3 || n > 4 || l.Segments[n-1].Segment < 20 {
		t.Fatalf("segments %+v", l.Segments)
	}
	out, errs, code = run(t, nil, "journal", "dump", dir)
	if code != 0 {
		t.Fatalf("journal dump: %d %s", code, errs)
	}
	got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(got) < 100 || !strings.HasPrefix(got[len(got)-1], "end closed") {
		t.Fatalf("dump: %d lines, the last %q", len(got), got[len(got)-1])
	}
	recs := got[:len(got)-1]
	first := 20000 - len(recs)
	for i, line := range recs {
		if want := fmt.Sprintf(" line %d", first+i); !strings.HasSuffix(line, want) {
			t.Fatalf("dump line %d: %q, want it to end with %q", i, line, want)
		}
	}
}
