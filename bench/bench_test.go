package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/bench"
	"github.com/kekbit-go/kekbit/domain"
)

func TestMain(m *testing.M) {
	if bench.RunWorker() {
		return
	}
	os.Exit(m.Run())
}

func TestRunSmall(t *testing.T) {
	root := t.TempDir()
	rep, err := bench.Run(context.Background(), bench.Options{N: 20_000, Size: 72, Readers: 2, Runs: 2, Root: root, Baseline: true})
	if err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]bench.Figure{"cold writer": rep.Cold.Writer, "cold reader": rep.Cold.Reader,
		"warm writer": rep.Warm.Writer, "warm reader": rep.Warm.Reader,
		"baseline writer": rep.Baseline.Writer, "baseline reader": rep.Baseline.Reader} {
		if len(f.Runs) != 2 || f.Min <= 0 || f.Min > f.Median || f.Median > f.Max {
			t.Errorf("%s: %+v", name, f)
		}
	}
	b, _ := json.Marshal(rep)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"n", "size", "readers", "runs", "cold", "warm", "baseline"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON %s lacks %q", b, k)
		}
	}
	if !strings.Contains(string(b), `"writer_rps":`) || !strings.Contains(string(b), `"reader_rps":`) {
		t.Errorf("JSON %s", b)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("bench left %d entries in its root", len(entries))
	}
	fresh := filepath.Join(root, "made-by-bench")
	if _, err := bench.Run(context.Background(), bench.Options{N: 1000, Size: 8, Readers: 1, Runs: 1, Root: fresh}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(fresh); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("bench left the root it made: %v", err)
	}
}

func TestBadOptions(t *testing.T) {
	for _, o := range []bench.Options{
		{N: 0, Size: 72, Readers: 1, Runs: 1, Root: "x"},
		{N: 10, Size: 4, Readers: 1, Runs: 1, Root: "x"},
		{N: 10, Size: 72, Readers: 0, Runs: 1, Root: "x"},
		{N: 1 << 30, Size: 72, Readers: 1, Runs: 1, Root: "x"},
	} {
		if _, err := bench.Run(context.Background(), o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

func TestLatencySmall(t *testing.T) {
	rep, err := bench.Latency(context.Background(), bench.LatencyOptions{N: 5000, Warmup: 100, Size: 16, Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.RTT) != 5000 || rep.Percentile(.5) <= 0 || rep.Percentile(.5) > rep.Percentile(.99) || rep.Percentile(.99) > rep.Max() {
		t.Fatalf("%d samples, p50 %v p99 %v max %v", len(rep.RTT), rep.Percentile(.5), rep.Percentile(.99), rep.Max())
	}
	var svg bytes.Buffer
	if err := rep.WriteSVG(&svg); err != nil || !strings.HasPrefix(svg.String(), "<svg") || !strings.Contains(svg.String(), "<polyline") {
		t.Fatalf("svg: %v", err)
	}
	b, _ := json.Marshal(rep)
	if !strings.Contains(string(b), `"p99_ns":`) {
		t.Fatalf("JSON %s", b)
	}
}

// TestRunJournal: with Journal the writer and readers also run through a
// journal that rolls over many segments, every record checked by the
// readers, and the report has the journal's figures beside the channel's.
func TestRunJournal(t *testing.T) {
	root := t.TempDir()
	rep, err := bench.Run(context.Background(), bench.Options{N: 50_000, Size: 72, Readers: 2, Runs: 1, Root: root,
		Journal: 1 << 16, Envelope: domain.EnvelopeAll, CoarseClock: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Journal == nil || rep.Journal.Writer.Median <= 0 || rep.Journal.Reader.Median <= 0 {
		t.Fatalf("journal figures: %+v", rep.Journal)
	}
	var out strings.Builder
	rep.WriteText(&out)
	if !strings.Contains(out.String(), "journal (65536-byte segments)/warm channel:") {
		t.Errorf("the report lacks the journal's ratio:\n%s", out.String())
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("bench left %d entries in its root", len(entries))
	}
}
