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
			{"rm", "--root", root, "--channel", bad},
			{"rm", root, "--channel", bad},
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
		{[]string{"help", "bogus"}, `unknown help topic "bogus"`},
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

// TestLongHelpForEveryCommand: every command that kekbit --help lists has
// a long description and examples in its help.
func TestLongHelpForEveryCommand(t *testing.T) {
	out, _, code := run(t, nil, "--help")
	if code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	_, list, ok := strings.Cut(out, "Available Commands:\n")
	list, _, _ = strings.Cut(list, "\n\n")
	if !ok || list == "" {
		t.Fatalf("no commands in --help:\n%s", out)
	}
	seen := 0
	for _, l := range strings.Split(list, "\n") {
		name := strings.Fields(l)[0]
		if name == "help" || name == "completion" { // cobra's own
			continue
		}
		seen++
		help, stderr, code := run(t, nil, name, "--help")
		long, _, _ := strings.Cut(help, "Usage:")
		_, examples, _ := strings.Cut(help, "Examples:\n")
		examples, _, _ = strings.Cut(examples, "\n\n")
		if code != 0 || strings.Count(strings.TrimSpace(long), "\n") < 3 || !strings.Contains(examples, "kekbit "+name+" ") {
			t.Errorf("kekbit %s --help: exit %d, %q; want a long description and examples: %s", name, code, stderr, help)
		}
	}
	if seen < 9 {
		t.Fatalf("only %d commands in --help:\n%s", seen, list)
	}
	if !strings.Contains(out, "Examples:") || !strings.Contains(out, "Exit status: 0") {
		t.Errorf("kekbit --help has no examples or exit status:\n%s", out)
	}
}

// TestVersion: --version names the build, the Go release and the channel
// format version.
func TestVersion(t *testing.T) {
	out, stderr, code := run(t, nil, "--version")
	if code != 0 || !strings.HasPrefix(out, "kekbit ") || !strings.Contains(out, "(go1.") ||
		!strings.HasSuffix(out, ", channel format 1.0.0\n") || strings.Count(out, "\n") != 1 {
		t.Fatalf("--version: exit %d, %q, %q", code, out, stderr)
	}
}

// TestLsRoot: ls of a root that is not there, or not a folder, is exit 1
// naming it (it used to list nothing and exit 0); an empty root lists no
// channel.
func TestLsRoot(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope")
	if out, stderr, code := run(t, nil, "ls", missing); code != 1 || out != "" || stderr != "kekbit: "+missing+": no such file or directory\n" {
		t.Errorf("ls of a missing root: exit %d, %q, %q", code, out, stderr)
	}
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	if _, stderr, code := run(t, nil, "ls", "--json", file); code != 1 || !strings.Contains(stderr, "not a folder") {
		t.Errorf("ls of a file: exit %d, %q", code, stderr)
	}
	if out, stderr, code := run(t, nil, "ls", "--json", dir); code != 0 || out != "[]\n" {
		t.Errorf("ls of an empty root: exit %d, %q, %q", code, out, stderr)
	}
}

// TestInfoWarnsOfAnotherID: a channel file copied to another id's path:
// info warns on stderr, in a row and in --json, and exits 0; at its own
// path it does not.
func TestInfoWarnsOfAnotherID(t *testing.T) {
	root := t.TempDir()
	if _, stderr, code := run(t, []byte("one\n"), "write", "--root", root, "--channel", "5"); code != 0 {
		t.Fatalf("write: %d %s", code, stderr)
	}
	img, err := os.ReadFile(filepath.Join(root, "0000_0000", "0000_0005.kekbit"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "0000_0000", "0000_0009.kekbit"), img, 0o644); err != nil {
		t.Fatal(err)
	}
	const say = "the header names channel 5 (0x5), the path channel 9 (0x9)"
	out, stderr, code := run(t, nil, "info", "--root", root, "--channel", "9")
	if code != 0 || !strings.Contains(stderr, "warning") || !strings.Contains(stderr, say) || !strings.Contains(out, "\nwarning       "+say) {
		t.Errorf("info of the copy: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	out, _, code = run(t, nil, "info", "--json", filepath.Join(root, "0000_0000", "0000_0009.kekbit"))
	if code != 0 || !strings.Contains(out, `"warning":"`+say) {
		t.Errorf("info --json of the copy: exit %d, %s", code, out)
	}
	out, stderr, code = run(t, nil, "info", "--json", "--root", root, "--channel", "5")
	if code != 0 || stderr != "" || strings.Contains(out, "warning") {
		t.Errorf("info of the original: exit %d, %s, %q", code, out, stderr)
	}
}
