package examples_test

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestJournalExample: a consumer stopped after 300 orders and started
// again sees every order once, in order, across segments and a second
// producer run.
func TestJournalExample(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the mmap backend runs on Linux only")
	}
	if testing.Short() {
		t.Skip("builds and runs programs")
	}
	exe := filepath.Join(build(t, "journal"), "journal")
	dir := filepath.Join(t.TempDir(), "orders")
	runOK := func(args ...string) string {
		p := start(t, exe, args...)
		p.stdin.Close()
		if code := p.wait(t, 30*time.Second); code != 0 {
			t.Fatalf("journal %v: exit %d\n%s", args, code, p)
		}
		return p.stdout.String()
	}
	runOK("produce", "--dir", dir, "--n", "1000", "--segment-size", "16384")
	var seen []string
	collect := func(out string) {
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, " order ") {
				seen = append(seen, l)
			}
		}
	}
	collect(runOK("consume", "--dir", dir, "--max", "300"))
	if len(seen) != 300 {
		t.Fatalf("first run saw %d orders", len(seen))
	}
	consumer := start(t, exe, "consume", "--dir", dir, "--wait")
	consumer.stdin.Close()
	consumer.waitOutput(t, "999 order 999", 30*time.Second)
	runOK("produce", "--dir", dir, "--n", "500", "--segment-size", "16384")
	consumer.waitOutput(t, "1499 order 1499", 30*time.Second)
	consumer.cmd.Process.Signal(syscall.SIGINT)
	if code := consumer.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("consumer: exit %d\n%s", code, consumer)
	}
	collect(consumer.stdout.String())
	if len(seen) != 1500 {
		t.Fatalf("saw %d orders in all, want 1500", len(seen))
	}
	for i, l := range seen {
		if want := fmt.Sprintf("%d order %d:", i, i); !strings.HasPrefix(l, want) {
			t.Fatalf("order %d: %q", i, l)
		}
	}
}
