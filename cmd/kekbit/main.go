// Command kekbit inspects, follows, dumps, verifies, writes, removes and
// benchmarks kekbit channels from a shell.
//
// A channel is named by its file path or by --root DIR --channel ID (ID in
// decimal or 0x-hex only; the file is then DIR/HHHH_HHHH/LLLL_LLLL.kekbit).
//
//	kekbit info [--json] CHANNEL
//	kekbit ls [--json] ROOT
//	kekbit dump [--json] [--raw] [--from POS] [--follow [--wait]] CHANNEL
//	kekbit write [--envelope [crc,seq,time]] [--seq-base N] [--heartbeat D] [flags] CHANNEL < lines
//	kekbit verify CHANNEL
//	kekbit rm [--force] ROOT --channel ID | CHANNEL
//	kekbit bench [--n N] [--size BYTES] [--readers R] [--json]
//	kekbit replicate --nats URL [--stream NAME] CHANNEL
//	kekbit mirror --nats URL --stream NAME CHANNEL
//
// Exit status: 0 on success and on the normal ends of a channel (closed,
// full, abandoned, nothing more written yet); 1 when a channel cannot be
// created, opened, read or removed, is corrupt or truncated, when write
// stops before the end of its input, or when the output cannot be written,
// with one line on stderr naming the file and the problem; 2 for usage
// errors (an unknown command or flag, a bad flag value).
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kekbit-go/kekbit/bench"
	"github.com/kekbit-go/kekbit/domain"
)

// usageError marks an error in how the command was called (exit 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// outputError is a failed write of the command's output (exit 1).
type outputError struct{ err error }

func (e outputError) Error() string { return "writing the output: " + e.err.Error() }
func (e outputError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func main() {
	if bench.RunWorker() { // a writer or reader process of `kekbit bench`
		return
	}
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes the command line and returns the exit status. Every write
// to stdout is checked: the first that fails makes the status 1, however
// the command went on (cobra's help and a report's text do not check
// theirs), and so does a failed Close of stdout at the end, where a file
// system that delays its errors reports them.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	out := &checkedWriter{w: stdout}
	root := newRoot()
	root.SetArgs(joinFieldLists(root, args))
	root.SetIn(stdin)
	root.SetOut(out)
	root.SetErr(stderr)
	err := root.Execute()
	var oe outputError
	if out.err != nil && (err == nil || errors.Is(err, out.err) && !errors.As(err, &oe)) {
		err = outputError{out.err}
	}
	if c, ok := stdout.(io.Closer); ok && out.err == nil {
		if cerr := c.Close(); cerr != nil && err == nil {
			err = outputError{cerr}
		}
	}
	if err == nil {
		return 0
	}
	// One line: the library's messages carry their own "kekbit: " prefix.
	msg := strings.ReplaceAll(err.Error(), ": kekbit: ", ": ")
	fmt.Fprintln(stderr, "kekbit:", strings.TrimPrefix(strings.ReplaceAll(msg, "\n", " "), "kekbit: "))
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(stderr, "Run 'kekbit --help' for usage.")
		return 2
	}
	return 1
}

// checkedWriter passes writes on to w and keeps the first error; after it
// every write fails with that error.
type checkedWriter struct {
	w   io.Writer
	err error
}

func (c *checkedWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	c.err = err
	return n, err
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "kekbit",
		Short: "Inspect, follow, dump, verify, write, remove and benchmark kekbit channels",
		Long: "kekbit works with kekbit channel files: persistent, memory-mapped channels\n" +
			"with one writer and any number of readers (format " + domain.CurrentVersion.String() + ", compatible with the\n" +
			"Rust crate kekbit).\n" +
			"\n" +
			"A channel is named by its file path, or by --root DIR --channel ID, the id\n" +
			"in decimal (42) or 0x-hex (0x2a) and nothing else: a leading zero (010),\n" +
			"0o17, 0b11 and 1_000 are refused, so that no id is read in a base its\n" +
			"writer did not mean.\n" +
			"\n" +
			"Exit status: 0 on success and on the normal ends of a channel (closed, full,\n" +
			"abandoned, nothing more written yet); 1 when a channel cannot be created,\n" +
			"opened, read or removed, is corrupt or truncated, when write stops before\n" +
			"the end of its input, or when the output cannot be written, with one line\n" +
			"on stderr naming the file and the problem; 2 for usage errors (an unknown\n" +
			"command or flag, a bad flag value).",
		Example: "  seq 1000 | kekbit write --root /dev/shm/kekbit-$USER --channel 42\n" +
			"  kekbit ls /dev/shm/kekbit-$USER\n" +
			"  kekbit dump --follow --root /dev/shm/kekbit-$USER --channel 42",
		Version:       versionString(),
		SilenceUsage:  true,
		SilenceErrors: true,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			msg := fmt.Sprintf("unknown command %q", args[0])
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(s, " or "))
			}
			return usageError{errors.New(msg)}
		},
		RunE:                       func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
		SuggestionsMinimumDistance: 2,
	}
	root.SetVersionTemplate("kekbit {{.Version}}\n")
	root.SetHelpCommand(&cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		Long:  "help shows the help of a command, as kekbit COMMAND --help does; an unknown\ncommand is a usage error (exit 2).",
		RunE: func(_ *cobra.Command, args []string) error {
			cmd, rest, err := root.Find(args)
			if err != nil || len(rest) > 0 {
				return usagef("unknown help topic %q", strings.Join(args, " "))
			}
			return cmd.Help()
		},
	})
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newInfo(), newLs(), newDump(), newVerify(), newWrite(), newRm(), newBench(), newReplicate(), newMirror())
	root.AddCommand(newJournal(), newStat())
	return root
}

// versionString is what --version prints after "kekbit": the module's
// version and commit as the build recorded them, the Go release, and the
// channel format version the command writes.
func versionString() string {
	v, extra := "(unknown)", []string{runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v = bi.Main.Version
		var rev, modified string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
		if rev != "" {
			if len(rev) > 12 {
				rev = rev[:12]
			}
			if modified == "true" {
				rev += "+dirty"
			}
			extra = append(extra, "commit "+rev)
		}
	}
	return fmt.Sprintf("%s (%s), channel format %s", v, strings.Join(extra, ", "), domain.CurrentVersion)
}

// exactArgs is cobra.ExactArgs with a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

// oneChannel accepts at most one argument, the channel's path (none when
// --root and --channel name it).
func oneChannel(_ *cobra.Command, args []string) error {
	if len(args) > 1 {
		return usagef("one channel at a time, got %d arguments", len(args))
	}
	return nil
}
