package main_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/journal"
	"github.com/kekbit-go/kekbit/replicate/jetstream"
)

// natsServer starts an embedded JetStream server on loopback, its data in
// a temp dir.
func natsServer(t *testing.T) string {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		t.Fatal("the NATS server did not start")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s.ClientURL()
}

// TestReplicateAndMirrorCommands: kekbit write, kekbit replicate, kekbit
// mirror, and kekbit dump shows the same records at the same positions in
// both channels.
func TestReplicateAndMirrorCommands(t *testing.T) {
	url := natsServer(t)
	dir := t.TempDir()
	var in strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&in, "record %d %s\n", i, strings.Repeat("x", i%50))
	}
	if _, errs, code := runStr(t, in.String(), "write", "--root", dir, "--channel", "0x2a"); code != 0 {
		t.Fatalf("write: %d %s", code, errs)
	}
	out, errs, code := runStr(t, "", "replicate", "--nats", url, "--root", dir, "--channel", "0x2a")
	if code != 0 || out != "" {
		t.Fatalf("replicate: %d %q %s", code, out, errs)
	}
	mirrorRoot := filepath.Join(t.TempDir(), "mirror")
	if _, errs, code := runStr(t, "", "mirror", "--nats", url, "--stream", "KEKBIT_000000000000002a", "--root", mirrorRoot); code != 0 {
		t.Fatalf("mirror: %d %s", code, errs)
	}
	src, _, code := runStr(t, "", "dump", "--json", "--root", dir, "--channel", "0x2a")
	if code != 0 {
		t.Fatal("dump source")
	}
	mir, _, code := runStr(t, "", "dump", "--json", "--root", mirrorRoot, "--channel", "0x2a")
	if code != 0 {
		t.Fatal("dump mirror")
	}
	if src != mir || strings.Count(src, "\n") != 2001 || !strings.HasSuffix(src, "{\"end\":\"closed\",\"pos\":"+lastPos(src)+"}\n") {
		t.Fatalf("dumps differ or are short:\n%.300s\n%.300s", src, mir)
	}
	// Again, into a file path: the same.
	mirPath := filepath.Join(t.TempDir(), "copy.kekbit")
	if _, errs, code := runStr(t, "", "mirror", "--nats", url, "--stream", "KEKBIT_000000000000002a", mirPath); code != 0 {
		t.Fatalf("mirror to a path: %d %s", code, errs)
	}
	if again, _, _ := runStr(t, "", "dump", "--json", mirPath); again != src {
		t.Fatal("the mirror at a path differs")
	}
	// A replicate run again finds everything done.
	if _, errs, code := runStr(t, "", "replicate", "--nats", url, filepath.Join(dir, "0000_0000", "0000_002a.kekbit")); code != 0 {
		t.Fatalf("replicate again: %d %s", code, errs)
	}
}

// lastPos returns the pos of the end line of a dump.
func lastPos(dump string) string {
	i := strings.LastIndex(dump, `"pos":`)
	return strings.TrimSuffix(strings.TrimSpace(dump[i+len(`"pos":`):]), "}")
}

func TestReplicateCommandErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"replicate", filepath.Join(dir, "x.kekbit")}, 2, "--nats URL is required"},
		{[]string{"mirror", "--nats", "nats://127.0.0.1:1", filepath.Join(dir, "x.kekbit")}, 2, "--stream NAME are required"},
		{[]string{"replicate", "--nats", "nats://127.0.0.1:1", "a", "b"}, 2, "one channel at a time"},
		{[]string{"replicate", "--nats", "nats://127.0.0.1:1", filepath.Join(dir, "missing.kekbit")}, 1, "missing.kekbit"},
	} {
		_, errs, code := runStr(t, "", c.args...)
		if code != c.code || !strings.Contains(errs, c.msg) {
			t.Errorf("%v: exit %d, %q", c.args, code, errs)
		}
	}
}

// runStr is run with standard input given as a string.
func runStr(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	return run(t, []byte(stdin), args...)
}

// TestJournalReplicateMirrorCommands: kekbit replicate --journal and kekbit mirror
// --journal copy a journal of many segments into another folder, record
// for record (payloads and sequence numbers), and the mirror keeps what
// --keep-segments says.
func TestJournalReplicateMirrorCommands(t *testing.T) {
	url := natsServer(t)
	src, dst, dst2 := t.TempDir(), t.TempDir(), t.TempDir()
	w, err := journal.OpenWriter(mmap.NewVolume(src), codecs.Raw{}, journal.WithSegmentSize(16<<10))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2000 {
		if _, err := w.Write(fmt.Appendf(nil, "record %d %s", i, strings.Repeat("x", i%50))); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := runStr(t, "", "replicate", "--nats", url, "--journal", src); code != 0 {
		t.Fatalf("replicate --journal: %d %s", code, errs)
	}
	stream := jetstream.JournalStreamName(w.JournalID())
	if _, errs, code := runStr(t, "", "mirror", "--nats", url, "--stream", stream, "--journal", dst); code != 0 {
		t.Fatalf("mirror --journal: %d %s", code, errs)
	}
	read := func(dir string) []string {
		r, err := journal.OpenReader(mmap.NewVolume(dir))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		var out []string
		for rec := range r.Records() {
			out = append(out, fmt.Sprintf("%d %s", rec.Seq, rec.Payload))
		}
		return out
	}
	a, b := read(src), read(dst)
	if len(a) != 2000 || strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Fatalf("source %d records, mirror %d, or they differ", len(a), len(b))
	}
	ids, _ := mmap.NewVolume(src).List()
	if _, errs, code := runStr(t, "", "mirror", "--nats", url, "--stream", stream, "--journal", dst2, "--keep-segments", "2"); code != 0 {
		t.Fatalf("mirror --journal --keep-segments: %d %s", code, errs)
	}
	if kept, _ := mmap.NewVolume(dst2).List(); len(ids) < 4 || fmt.Sprint(kept) != fmt.Sprint(ids[len(ids)-2:]) {
		t.Fatalf("the mirror keeps %v of %v", kept, ids)
	}
	for _, args := range [][]string{
		{"replicate", "--nats", url, "--journal", src, "--channel", "1"},
		{"mirror", "--nats", url, "--stream", stream, "--journal", dst, "x.kekbit"},
	} {
		if _, errs, code := runStr(t, "", args...); code != 2 || !strings.Contains(errs, "name no channel") {
			t.Errorf("%v: exit %d, %s", args, code, errs)
		}
	}
}
