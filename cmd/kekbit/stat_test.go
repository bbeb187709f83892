//go:build unix

package main_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/internal/testio"
	"github.com/kekbit-go/kekbit/journal"
	"github.com/kekbit-go/kekbit/journal/positions"
)

// statJSON is what stat --json prints, as the tests read it.
type statJSON struct {
	Channels []struct {
		ID            uint64  `json:"channel_id"`
		Path          string  `json:"path"`
		State         string  `json:"state"`
		Writer        string  `json:"writer"`
		Records       uint64  `json:"records"`
		RecordsPerSec float64 `json:"records_per_sec"`
	} `json:"channels"`
	Journals []struct {
		NextSeq uint64 `json:"next_seq"`
		Readers []struct {
			Name       string `json:"name"`
			LagRecords uint64 `json:"lag_records"`
		} `json:"readers"`
	} `json:"journals"`
}

// statRoot makes a root with three channels written live by goroutines of
// this process, one record a millisecond each, until the test ends, and a
// journal in the subfolder "orders" with a named reader that keeps up
// ("fast") and one stopped after 100 records ("slow").
func statRoot(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "root")
	vol := mmap.NewVolume(root)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	for id := uint64(1); id <= 3; id++ {
		h, err := domain.NewHeader(domain.Hints{ChannelID: id, Capacity: 1 << 22, MaxMsgLen: 128, Timeout: 60, TickUnit: domain.Nanos, Envelope: domain.EnvelopeAll})
		if err != nil {
			t.Fatal(err)
		}
		w, err := domain.Create(vol, h, codecs.Raw{})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer w.Close()
			for ctx.Err() == nil {
				w.Write(make([]byte, 40))
				time.Sleep(time.Millisecond)
			}
		}()
	}
	dir := filepath.Join(root, "orders")
	jvol := mmap.NewVolume(dir)
	store := positions.NewMapped(filepath.Join(dir, "readers"))
	jw, err := journal.OpenWriter(jvol, codecs.Raw{}, journal.WithSegmentSize(1<<16), journal.WithPositions(store))
	if err != nil {
		t.Fatal(err)
	}
	for range 200 {
		jw.Write(make([]byte, 60))
	}
	slow, err := journal.OpenReader(jvol, journal.WithName(store, "slow"))
	if err != nil {
		t.Fatal(err)
	}
	slow.Read(func(journal.Record) error { return nil }, 100)
	slow.Commit()
	slow.Close()
	fast, err := journal.OpenReader(jvol, journal.WithName(store, "fast"), journal.WithAutoCommit())
	if err != nil {
		t.Fatal(err)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer jw.Close()
		defer fast.Close()
		for ctx.Err() == nil {
			jw.Write(make([]byte, 60))
			fast.Read(func(journal.Record) error { return nil }, 0)
			time.Sleep(time.Millisecond)
		}
	}()
	return root
}

// TestStatOnce: --once prints a table of the three live channels and the
// journal with its two readers; --once --json the same as JSON, the slow
// reader's lag the records written after its 100th.
func TestStatOnce(t *testing.T) {
	root := statRoot(t)
	// What is not a channel is listed with its problem, and costs nothing.
	if err := syscall.Mkfifo(filepath.Join(root, "0000_0000", "0000_0009.kekbit"), 0o600); err != nil {
		t.Fatal(err)
	}
	sparse, err := os.Create(filepath.Join(root, "0000_0000", "0000_000a.kekbit"))
	if err != nil {
		t.Fatal(err)
	}
	hdr := make([]byte, 1024)
	copy(hdr, "*KEKBIT*")
	hdr[14] = 1                                    // version 1.0.0
	hdr[24] = 10                                   // channel id
	copy(hdr[32:], []byte{0xF8, 0xFF, 0xFF, 0xFF}) // capacity 0xFFFFFFF8
	copy(hdr[36:], []byte{0x00, 0x04})             // max record length 1024
	hdr[40], hdr[56] = 10, 9                       // timeout, nanos
	sparse.Write(hdr)
	sparse.Truncate(4 << 30)
	sparse.Close()
	out, stderr, code := run(t, nil, "stat", "--once", root)
	if code != 0 {
		t.Fatalf("stat --once: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"0x1 ", "0x2 ", "0x3 ", "live", "alive", "orders", "slow", "fast", "0x9 ", "0xa ", "not a regular file", "PROBLEM"} {
		if !strings.Contains(out, want) {
			t.Errorf("stat --once shows no %q:\n%s", want, out)
		}
	}
	out, stderr, code = run(t, nil, "stat", "--once", "--json", root)
	if code != 0 {
		t.Fatalf("stat --once --json: exit %d: %s", code, stderr)
	}
	var s statJSON
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	live := 0
	for _, c := range s.Channels {
		if c.State == "live" && c.Writer == "alive" && c.Records > 0 {
			live++
		}
	}
	if live < 3 || len(s.Journals) != 1 {
		t.Fatalf("%d live channels, %d journals: %s", live, len(s.Journals), out)
	}
	j := s.Journals[0]
	lag := map[string]uint64{}
	for _, r := range j.Readers {
		lag[r.Name] = r.LagRecords
	}
	if l := lag["slow"]; l < 100 || l > j.NextSeq-100 {
		t.Errorf("slow reader's lag %d, journal at %d", l, j.NextSeq)
	}
}

// TestStatLines: off a terminal stat prints one JSON object per interval,
// its rates those of the writers (about 1,000 records a second each, on
// a loaded machine less), and with --listen it serves the metrics too.
func TestStatLines(t *testing.T) {
	root := statRoot(t)
	cmd := exec.Command(kekbit, "stat", "--interval", "200ms", "--for", "1500ms", "--listen", "127.0.0.1:0", root)
	var stderr testio.Buffer // read while stat runs
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(nil, 1<<20)
	var lines []statJSON
	var scraped string
	for sc.Scan() {
		var s statJSON
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatalf("not a JSON line: %v: %s", err, sc.Text())
		}
		lines = append(lines, s)
		if scraped == "" {
			if m := regexp.MustCompile(`http://(\S+)/metrics`).FindStringSubmatch(stderr.String()); m != nil {
				resp, err := http.Get("http://" + m[1] + "/metrics")
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				scraped = string(b)
			}
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("stat: %v: %s", err, stderr.String())
	}
	if len(lines) < 4 {
		t.Fatalf("%d lines in 1.5 s at 200ms", len(lines))
	}
	last := lines[len(lines)-1]
	for _, c := range last.Channels {
		if filepath.Dir(filepath.Dir(c.Path)) != root {
			continue // the journal's segments
		}
		if c.RecordsPerSec <= 0 || c.RecordsPerSec > 2000 {
			t.Errorf("channel %d: %v records/s, want about 1,000", c.ID, c.RecordsPerSec)
		}
	}
	if !strings.Contains(scraped, `kekbit_channel_records_total{channel="1"`) || !strings.Contains(scraped, `kekbit_journal_reader_lag_records{journal="orders"`) {
		t.Errorf("the metrics served lack the channel or the reader:\n%s", scraped)
	}
}

// TestStatOutputFails: stat to /dev/full is exit 1.
func TestStatOutputFails(t *testing.T) {
	root := statRoot(t)
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	for _, args := range [][]string{{"stat", "--once", root}, {"stat", "--once", "--json", root}, {"stat", "--interval", "50ms", "--for", "1s", root}} {
		cmd := exec.Command(kekbit, args...)
		cmd.Stdout = full
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || strings.Count(strings.TrimSpace(stderr.String()), "\n") != 0 {
			t.Errorf("kekbit %v > /dev/full: %v, stderr %q", args, err, stderr.String())
		}
	}
}

// TestStatTmux: under tmux, stat redraws a table that shows each live
// channel's rate and the slow reader's lag, and the table changes from one
// redraw to the next.
func TestStatTmux(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		// A fresh machine with only Go runs the README's go test ./...;
		// CI (.ci/run sets KEKBIT_CI) installs tmux and must run this.
		if os.Getenv("KEKBIT_CI") != "" {
			t.Fatalf("tmux is needed (apt-get install tmux): %v", err)
		}
		t.Skip("tmux is not installed: the terminal view is not tested here (CI runs it)")
	}
	root := statRoot(t)
	session := fmt.Sprintf("kekbit-stat-%d", os.Getpid())
	sock := filepath.Join(t.TempDir(), "tmux.sock")
	tm := func(args ...string) string {
		out, err := exec.Command(tmux, append([]string{"-S", sock}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v: %s", args, err, out)
		}
		return string(out)
	}
	tm("new-session", "-d", "-s", session, "-x", "160", "-y", "40")
	defer exec.Command(tmux, "-S", sock, "kill-server").Run()
	tm("send-keys", "-t", session, kekbit+" stat --interval 200ms "+root, "Enter")
	rateRE := regexp.MustCompile(`(?m)^0x[123]\s+live\s+alive\s+\S+\s+\d+\s+([0-9.]+k?)\s`)
	slowRE := regexp.MustCompile(`(?m)^slow\s+\S+\s+\S+\s+(\d+)\s`)
	var screens []string
	deadline := time.Now().Add(15 * time.Second)
	for len(screens) < 2 && time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		screen := tm("capture-pane", "-p", "-t", session)
		rates := rateRE.FindAllStringSubmatch(screen, -1)
		slow := slowRE.FindStringSubmatch(screen)
		if len(rates) != 3 || slow == nil {
			continue
		}
		nonzero := 0
		for _, r := range rates {
			if r[1] != "0" {
				nonzero++
			}
		}
		if nonzero < 3 || slow[1] == "0" {
			continue
		}
		if len(screens) == 0 || screen != screens[0] {
			screens = append(screens, screen)
		}
	}
	if len(screens) < 2 {
		t.Fatalf("the screen never showed three live channels with their rates and the slow reader's lag, changing:\n%s", tm("capture-pane", "-p", "-t", session))
	}
	tm("send-keys", "-t", session, "C-c", "")
}

// TestStatPlot: --plot draws, when stat stops, a line of records per
// second for each of the three live channels and the journal, and one of
// lag for each named reader, each with a point per snapshot, as SVG that
// parses as XML.
func TestStatPlot(t *testing.T) {
	root := statRoot(t)
	svg := filepath.Join(t.TempDir(), "rates.svg")
	if _, stderr, code := run(t, nil, "stat", "--interval", "100ms", "--for", "1s", "--plot", svg, root); code != 0 {
		t.Fatalf("stat --plot: exit %d: %s", code, stderr)
	}
	b, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Lines []struct {
			Name   string `xml:"data-name,attr"`
			Points string `xml:"points,attr"`
		} `xml:"polyline"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("not XML: %v", err)
	}
	lines := map[string]int{}
	for _, l := range doc.Lines {
		lines[l.Name] = len(strings.Fields(l.Points))
	}
	for _, name := range []string{"channel 0x1", "channel 0x2", "channel 0x3", "journal orders ", "orders * reader slow", "orders * reader fast"} {
		n := lines[name]
		for l, k := range lines { // the journal's lines carry its id: match around it
			if before, after, ok := strings.Cut(name, "*"); ok && strings.HasPrefix(l, before) && strings.HasSuffix(l, after) ||
				strings.HasSuffix(name, " ") && strings.HasPrefix(l, name) {
				n = k
			}
		}
		if n < 5 {
			t.Errorf("line %q has %d points (lines: %v)", name, n, lines)
		}
	}
	if _, _, code := run(t, nil, "stat", "--once", "--plot", svg, root); code != 2 {
		t.Errorf("--once --plot: exit %d, want 2", code)
	}
}
