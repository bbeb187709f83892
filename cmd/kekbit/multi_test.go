//go:build linux

package main_test

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
)

// TestWriteMultiWriter: two `write --multi-writer` started at once on one
// channel (one creates it, the other joins) each leave it open at the end
// of their input; a third with --close ends it; dump reads every line of
// all three, each writer's in its own order.
func TestWriteMultiWriter(t *testing.T) {
	root := t.TempDir()
	const lines = 2000
	input := func(w int) []byte {
		var b strings.Builder
		for i := range lines {
			fmt.Fprintf(&b, "w%d-%06d\n", w, i)
		}
		return []byte(b.String())
	}
	var wg sync.WaitGroup
	errs := make([]string, 2)
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, stderr, code := run(t, input(w), "write", "--multi-writer", "--root", root, "--channel", "7", "--capacity", "4194304"); code != 0 {
				errs[w] = fmt.Sprintf("writer %d: exit %d: %s", w, code, stderr)
			}
		}()
	}
	wg.Wait()
	for _, e := range errs {
		if e != "" {
			t.Fatal(e)
		}
	}
	if _, stderr, code := run(t, []byte("w2-000000\nw2-000001\nw2-000002\nw2-000003\nw2-000004\nw2-000005\nw2-000006\nw2-000007\nw2-000008\nw2-000009\n"), "write", "--multi-writer", "--close", "--root", root, "--channel", "7"); code != 0 {
		t.Fatalf("closing writer: exit %d: %s", code, stderr)
	}
	out, stderr, code := run(t, nil, "dump", "--json", "--root", root, "--channel", "7")
	if code != 0 {
		t.Fatalf("dump: exit %d: %s", code, stderr)
	}
	recs, end := parseDump(t, out)
	if end.End != "closed" {
		t.Errorf("dump ends %q, want closed", end.End)
	}
	per := map[string][]string{}
	for _, r := range recs {
		s := string(r.Data)
		per[s[:2]] = append(per[s[:2]], s)
	}
	for w, want := range map[string]int{"w0": lines, "w1": lines, "w2": 10} {
		got := per[w]
		if len(got) != want || !sort.StringsAreSorted(got) {
			t.Errorf("writer %s: %d lines (in order: %v), want %d in order", w, len(got), sort.StringsAreSorted(got), want)
		}
	}
	if _, stderr, code := run(t, []byte("late\n"), "write", "--multi-writer", "--root", root, "--channel", "7"); code == 0 || !strings.Contains(stderr, "closed") {
		t.Errorf("a writer joining a closed channel: exit %d, %q; want an error saying it is closed", code, stderr)
	}
}
