package main_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/internal/vectortest"
)

// kekbit is the command built once for all tests.
var kekbit string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kekbit-cmd-")
	if err != nil {
		panic(err)
	}
	kekbit = filepath.Join(dir, "kekbit")
	if out, err := exec.Command("go", "build", "-o", kekbit, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building kekbit: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// run runs the command and returns its stdout, stderr and exit status.
func run(t *testing.T, stdin []byte, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(kekbit, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out.String(), errb.String(), 0
	case errors.As(err, &ee):
		return out.String(), errb.String(), ee.ExitCode()
	}
	t.Fatalf("running kekbit %v: %v", args, err)
	return "", "", -1
}

type line struct {
	Pos  uint64 `json:"pos"`
	Len  int    `json:"len"`
	Data []byte `json:"data"`
	End  string `json:"end"`
}

func parseDump(t *testing.T, out string) (recs []line, end line) {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("bad JSON line %q: %v", sc.Text(), err)
		}
		if l.End != "" {
			end = l
			continue
		}
		if end.End != "" {
			t.Fatalf("record after the end line: %q", sc.Text())
		}
		recs = append(recs, l)
	}
	if end.End == "" {
		t.Fatalf("no end line in %q", out)
	}
	return recs, end
}

var endNames = map[error]string{domain.ErrClosed: "closed", domain.ErrChannelFull: "full", domain.ErrNothingYet: "watermark", domain.ErrTruncated: "truncated"}

func vectors(t *testing.T) []vectortest.Vector {
	vs, err := vectortest.Load()
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

func TestDumpVectors(t *testing.T) {
	for _, v := range vectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			out, stderr, code := run(t, nil, "dump", "--json", v.Path)
			msgs, pos, end := v.Expect()
			wantCode := 0
			if end == domain.ErrTruncated {
				wantCode = 1
				if strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, v.Path) {
					t.Errorf("stderr is not one line naming the file: %q", stderr)
				}
			}
			if code != wantCode {
				t.Fatalf("exit %d, want %d (stderr %q)", code, wantCode, stderr)
			}
			if wantCode == 0 && stderr != "" {
				t.Fatalf("stderr, not a terminal here, must stay quiet: %q", stderr)
			}
			recs, last := parseDump(t, out)
			wantEnd := endNames[end]
			if end == domain.ErrNothingYet {
				wantEnd = "abandoned" // as info says: no writer holds it
			}
			if last.End != wantEnd || last.Pos != pos {
				t.Fatalf("end %+v, want %s at %d", last, wantEnd, pos)
			}
			if len(recs) != len(msgs) {
				t.Fatalf("%d records, want %d", len(recs), len(msgs))
			}
			for i, m := range msgs {
				if recs[i].Pos != m.Pos || recs[i].Len != len(m.Bytes()) || !bytes.Equal(recs[i].Data, m.Bytes()) {
					t.Fatalf("record %d: %+v, want pos %d data %s", i, recs[i], m.Pos, m.Hex)
				}
			}
		})
	}
}

func TestDumpText(t *testing.T) {
	vs := vectors(t)
	var e vectortest.Vector
	for _, v := range vs {
		if v.Name == "e_text" {
			e = v
		}
	}
	out, _, code := run(t, nil, "dump", e.Path)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || lines[0] != "8 14 Hello, kekbit!" || lines[len(lines)-1] != "end closed at 328" {
		t.Fatalf("exit %d, output:\n%s", code, out)
	}
	if !strings.Contains(out, "\n128 15 6c696e65310a6c696e653209746162\n") {
		t.Fatalf("a payload with control characters is not shown as hex:\n%s", out)
	}
}

func TestInfoVectors(t *testing.T) {
	for _, v := range vectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			out, stderr, code := run(t, nil, "info", "--json", v.Path)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"path", "version", "writer_id", "channel_id", "capacity", "max_msg_len", "timeout", "tick_unit", "creation_time", "write_offset", "records", "heartbeats", "state", "writer_alive"} {
				if _, ok := got[k]; !ok {
					t.Errorf("no key %q", k)
				}
			}
			var info struct {
				Version      string `json:"version"`
				WriterID     uint64 `json:"writer_id"`
				ChannelID    uint64 `json:"channel_id"`
				Capacity     uint32 `json:"capacity"`
				MaxMsgLen    uint32 `json:"max_msg_len"`
				Timeout      uint64 `json:"timeout"`
				CreationTime uint64 `json:"creation_time"`
				WriteOffset  uint64 `json:"write_offset"`
				Records      int    `json:"records"`
				State        string `json:"state"`
				WriterAlive  bool   `json:"writer_alive"`
			}
			if err := json.Unmarshal([]byte(out), &info); err != nil {
				t.Fatal(err)
			}
			sh := v.Side.Header
			if info.Version != "1.0.0" || info.WriterID != sh.WriterID || info.ChannelID != sh.ChannelID ||
				info.Capacity != sh.Capacity || info.MaxMsgLen != sh.MaxMsgLen || info.Timeout != sh.Timeout ||
				info.CreationTime != sh.CreationTime {
				t.Fatalf("info %s does not match the sidecar header %+v", out, sh)
			}
			msgs, pos, end := v.Expect()
			wantState := map[error]string{domain.ErrClosed: "closed", domain.ErrChannelFull: "full", domain.ErrNothingYet: "abandoned", domain.ErrTruncated: "truncated"}[end]
			if info.Records != len(msgs) || info.WriteOffset != pos || info.State != wantState || info.WriterAlive {
				t.Fatalf("info %s: want %d records, offset %d, state %s", out, len(msgs), pos, wantState)
			}
		})
	}
}

func TestCopyRoundTrip(t *testing.T) {
	for _, v := range vectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			src, _, _ := run(t, nil, "dump", "--json", v.Path)
			dst := filepath.Join(t.TempDir(), "copy.kekbit")
			_, stderr, code := run(t, []byte(src), "write", "--jsonl", "--capacity", "16384", "--max-msg", fmt.Sprint(v.Side.Header.MaxMsgLen), dst)
			if code != 0 {
				t.Fatalf("write exit %d: %s", code, stderr)
			}
			back, _, code := run(t, nil, "dump", "--json", dst)
			want, _ := parseDump(t, src)
			got, end := parseDump(t, back)
			if code != 0 || end.End != "closed" || len(got) != len(want) {
				t.Fatalf("exit %d, end %+v, %d records of %d", code, end, len(got), len(want))
			}
			for i := range want {
				if !bytes.Equal(got[i].Data, want[i].Data) {
					t.Fatalf("record %d differs", i)
				}
			}
		})
	}
}

func TestDamagedFiles(t *testing.T) {
	vs := vectors(t)
	good := vs[1].Image // b_words
	dir := t.TempDir()
	flipped := bytes.Clone(good)
	flipped[1024+24+7] = 0x40 // the second record's length word
	for name, img := range map[string][]byte{
		"cut inside the header": good[:100],
		"cut inside a record":   good[:1024+30],
		"flipped length word":   flipped,
		"not a channel":         []byte(strings.Repeat("hello, world\n", 200)),
		"empty":                 nil,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".kekbit")
			if err := os.WriteFile(path, img, 0o644); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{{"dump", path}, {"dump", "--json", path}} {
				_, stderr, code := run(t, nil, args...)
				if code != 1 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, path) ||
					strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine") {
					t.Fatalf("%v: exit %d, stderr %q", args, code, stderr)
				}
			}
		})
	}
	if _, stderr, code := run(t, nil, "dump", filepath.Join(dir, "missing.kekbit")); code != 1 || !strings.Contains(stderr, "missing.kekbit") {
		t.Fatalf("missing file: exit %d, %q", code, stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"dump"},
		{"dump", "--no-such-flag", "x"},
		{"info", "--root", "/tmp", "--channel", "zz"},
		{"write", "--tick", "fortnights", "x"},
		{"ls"},
	} {
		_, stderr, code := run(t, nil, args...)
		if code != 2 || stderr == "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
}

func TestWriteFollowAndInfo(t *testing.T) {
	root := t.TempDir()
	w := exec.Command(kekbit, "write", "--root", root, "--channel", "0x2a", "--format", "text", "--heartbeat", "5ms")
	stdin, _ := w.StdinPipe()
	var werr bytes.Buffer
	w.Stderr = &werr
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Process.Kill(); w.Wait() })
	fmt.Fprintln(stdin, "first")
	// The follower starts once the channel exists.
	path := filepath.Join(root, "0000_0000", "0000_002a.kekbit")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			if _, err := os.Stat(strings.TrimSuffix(path, ".kekbit") + ".lock"); err != nil {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the channel never appeared")
		}
		time.Sleep(5 * time.Millisecond)
	}
	info, _, code := run(t, nil, "info", "--json", "--root", root, "--channel", "42")
	if code != 0 || !strings.Contains(info, `"state":"open"`) || !strings.Contains(info, `"writer_alive":true`) {
		t.Fatalf("info while writing: exit %d, %s", code, info)
	}
	f := exec.Command(kekbit, "dump", "--follow", "--json", path)
	var fout bytes.Buffer
	f.Stdout = &fout
	if err := f.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Process.Kill(); f.Wait() })
	fmt.Fprintln(stdin, "second")
	fmt.Fprintln(stdin, "")
	fmt.Fprintln(stdin, "third")
	time.Sleep(20 * time.Millisecond) // idle: heartbeats go out
	stdin.Close()
	if err := w.Wait(); err != nil {
		t.Fatalf("write: %v: %s", err, werr.String())
	}
	if err := f.Wait(); err != nil {
		t.Fatalf("dump --follow: %v", err)
	}
	recs, end := parseDump(t, fout.String())
	var got []string
	for _, r := range recs {
		got = append(got, string(r.Data))
	}
	if strings.Join(got, ",") != "first,second,third" || end.End != "closed" {
		t.Fatalf("followed %v, end %+v", got, end)
	}
	info, _, _ = run(t, nil, "info", "--json", path)
	if !strings.Contains(info, `"state":"closed"`) || !strings.Contains(info, `"writer_alive":false`) || strings.Contains(info, `"heartbeats":1,`) {
		t.Fatalf("info after close: %s", info)
	}
	if _, stderr, code := run(t, []byte("again\n"), "write", path); code != 1 || !strings.Contains(stderr, "exists") {
		t.Fatalf("writing an existing channel: exit %d, %q", code, stderr)
	}
}

func TestBench(t *testing.T) {
	root := t.TempDir()
	out, stderr, code := run(t, nil, "bench", "--n", "20000", "--runs", "1", "--readers", "2", "--baseline", "--json", "--root", root)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep struct {
		N, Size, Readers, Runs int
		Cold, Warm, Baseline   *struct {
			WriterRPS float64 `json:"writer_rps"`
			ReaderRPS float64 `json:"reader_rps"`
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if rep.N != 20000 || rep.Size != 72 || rep.Readers != 2 || rep.Runs != 1 || rep.Cold == nil || rep.Warm == nil || rep.Baseline == nil ||
		rep.Cold.WriterRPS <= 0 || rep.Cold.ReaderRPS <= 0 || rep.Warm.ReaderRPS <= 0 || rep.Baseline.ReaderRPS <= 0 {
		t.Fatalf("report %s", out)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Fatalf("bench left %d entries behind", len(entries))
	}
	plot := filepath.Join(t.TempDir(), "rtt.svg")
	out, stderr, code = run(t, nil, "bench", "--latency", "--n", "2000", "--warmup", "100", "--json", "--plot", plot, "--root", root)
	if code != 0 || !strings.Contains(out, `"p99_ns":`) {
		t.Fatalf("latency: exit %d: %s %s", code, out, stderr)
	}
	if svg, err := os.ReadFile(plot); err != nil || !bytes.HasPrefix(svg, []byte("<svg")) {
		t.Fatalf("plot: %v", err)
	}
	if _, _, code := run(t, nil, "bench", "--size", "4", "--root", root); code != 1 {
		t.Fatalf("a 4-byte record: exit %d", code)
	}
}

// TestSignalsEndCleanly: SIGTERM stops write as an aborted write stops:
// exit 1, one line saying it was interrupted after 1 record, and the
// channel left unclosed as a crashed writer leaves it; Ctrl-C (SIGINT)
// makes dump --follow print its end line and exit 0 with nothing on
// stderr, which is not a terminal here.
func TestSignalsEndCleanly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0000_0000", "0000_0007.kekbit")
	w := exec.Command(kekbit, "write", "--format", "text", path)
	stdin, _ := w.StdinPipe()
	var werr bytes.Buffer
	w.Stderr = &werr
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Process.Kill(); w.Wait() })
	fmt.Fprintln(stdin, "one")
	waitReady(t, path)

	f := exec.Command(kekbit, "dump", "--follow", "--json", path)
	var ferr bytes.Buffer
	f.Stderr = &ferr
	fout, err := f.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Process.Kill(); f.Wait() })
	sc := bufio.NewScanner(fout)
	if !sc.Scan() || !strings.Contains(sc.Text(), `"pos":8`) { // it has read the record
		t.Fatalf("dump --follow's first line: %q", sc.Text())
	}
	lines := sc.Text() + "\n"
	f.Process.Signal(os.Interrupt)
	for sc.Scan() {
		lines += sc.Text() + "\n"
	}
	if err := f.Wait(); err != nil || ferr.Len() != 0 {
		t.Fatalf("dump --follow after Ctrl-C: %v, stderr %q", err, ferr.String())
	}
	if recs, end := parseDump(t, lines); len(recs) != 1 || end.End != "watermark" || end.Pos != 24 {
		t.Fatalf("dump --follow printed %v, end %+v", recs, end)
	}

	w.Process.Signal(syscall.SIGTERM) // stdin still open
	if err := w.Wait(); w.ProcessState.ExitCode() != 1 || strings.Count(werr.String(), "\n") != 1 ||
		!strings.Contains(werr.String(), "interrupted; stopped after 1 record went in") {
		t.Fatalf("write after SIGTERM: %v, stderr %q", err, werr.String())
	}
	info, _, code := run(t, nil, "info", "--json", path)
	if code != 0 || !strings.Contains(info, `"state":"abandoned"`) || !strings.Contains(info, `"records":1,`) {
		t.Fatalf("after SIGTERM: %s", info)
	}
}

// waitReady waits until the channel file at path exists without its lock
// file.
func waitReady(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, errFile := os.Stat(path)
		_, errLock := os.Stat(strings.TrimSuffix(path, ".kekbit") + ".lock")
		if errFile == nil && errLock != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never became ready", path)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
