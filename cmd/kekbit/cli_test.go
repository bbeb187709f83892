package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNumbersDecimalOrHexOnly: a channel id, and every other whole number
// a flag takes, is decimal or 0x-hex: 010 (octal 8 to strconv), 0o17,
// 0b11 and 1_000 are usage errors that name the flag and the forms it
// takes, and no channel is written.
func TestNumbersDecimalOrHexOnly(t *testing.T) {
	root := t.TempDir()
	for _, bad := range []string{"010", "0o17", "0b11", "1_000", "0x", "-1", "+5", "1e3", "18446744073709551616"} {
		for _, args := range [][]string{
			{"write", "--root", root, "--channel", bad},
			{"info", "--root", root, "--channel", bad},
			{"dump", "--root", root, "--channel", bad},
			{"verify", "--root", root, "--channel", bad},
		} {
			_, stderr, code := run(t, []byte("x\n"), args...)
			form := "decimal (42) or 0x-hex (0x2a)"
			if len(bad) > 19 {
				form = "too large: more than 64 bits"
			}
			if code != 2 || !strings.Contains(stderr, `"--channel"`) || !strings.Contains(stderr, form) {
				t.Errorf("%v: exit %d, stderr %q; want exit 2 naming --channel and the accepted forms", args, code, stderr)
			}
		}
	}
	for _, args := range [][]string{
		{"write", "--capacity", "0200000", filepath.Join(root, "c.kekbit")},
		{"write", "--max-msg", "0o100", filepath.Join(root, "c.kekbit")},
		{"write", "--writer-id", "0b1", filepath.Join(root, "c.kekbit")},
		{"write", "--envelope", "--seq-base", "1_0", filepath.Join(root, "c.kekbit")},
		{"dump", "--from", "010", filepath.Join(root, "c.kekbit")},
		{"bench", "--n", "1_000", "--root", root},
		{"bench", "--readers", "01", "--root", root},
	} {
		flag := args[len(args)-3]
		if args[0] == "bench" {
			flag = args[1]
		}
		_, stderr, code := run(t, []byte("x\n"), args...)
		if code != 2 || !strings.Contains(stderr, `"`+flag+`"`) || !strings.Contains(stderr, "0x-hex") {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 naming %s", args, code, stderr, flag)
		}
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Fatalf("a refused command left %d entries in the root", len(entries))
	}
	// The accepted forms name the same channel.
	if _, stderr, code := run(t, []byte("one\n"), "write", "--root", root, "--channel", "0X2A", "--capacity", "0x4000"); code != 0 {
		t.Fatalf("write --channel 0X2A: exit %d: %s", code, stderr)
	}
	for _, id := range []string{"42", "0x2a", "0x002A"} {
		if out, stderr, code := run(t, nil, "info", "--json", "--root", root, "--channel", id); code != 0 || !strings.Contains(out, `"channel_id":42,`) || !strings.Contains(out, `"capacity":16384,`) {
			t.Errorf("info --channel %s: exit %d, %s %s", id, code, out, stderr)
		}
	}
}

// TestUnknownCommandsAndBadValues: an unknown command, an unknown flag and
// a flag value that does not parse or is out of range are usage errors:
// exit 2, the problem on stderr, nothing on stdout, no channel made.
func TestUnknownCommandsAndBadValues(t *testing.T) {
	dir := t.TempDir()
	ch := filepath.Join(dir, "c.kekbit")
	for _, tc := range []struct {
		args []string
		say  string
	}{
		{[]string{"bogus"}, `unknown command "bogus"`},
		{[]string{"dupm", ch}, `did you mean dump?`},
		{[]string{"dump", "--bogus", ch}, "unknown flag: --bogus"},
		{[]string{"dump", "--json=maybe", ch}, `"--json"`},
		{[]string{"write", "--timeout", "soon", ch}, `"--timeout"`},
		{[]string{"write", "--format", "csv", ch}, "--format"},
		{[]string{"write", "--tick", "fortnights", ch}, "--tick"},
		{[]string{"write", "--capacity", "5000000000", ch}, `"--capacity"`},
		{[]string{"write", "--capacity", "0xFFFFFFFF", ch}, "apacity"},
		{[]string{"write", "--envelope", "crc,bogus", ch}, "bogus"},
		{[]string{"bench", "--pause", "-", "--root", dir}, `"--pause"`},
		{[]string{"info", ch, ch}, "one channel at a time"},
	} {
		out, stderr, code := run(t, []byte("x\n"), tc.args...)
		if code != 2 || out != "" || !strings.Contains(stderr, tc.say) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 saying %q", tc.args, code, out, stderr, tc.say)
		}
	}
	if _, err := os.Stat(ch); !os.IsNotExist(err) {
		t.Fatalf("a usage error made the channel: %v", err)
	}
}
