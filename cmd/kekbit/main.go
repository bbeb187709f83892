// Command kekbit inspects, follows, dumps, writes and benchmarks kekbit
// channels from a shell.
//
// A channel is named by its file path or by --root DIR --channel ID (ID in
// decimal or 0x-hex; the file is then DIR/HHHH_HHHH/LLLL_LLLL.kekbit).
//
//	kekbit info [--json] CHANNEL
//	kekbit ls [--json] ROOT
//	kekbit dump [--json] [--raw] [--from POS] [--follow] CHANNEL
//	kekbit write [--envelope [crc,seq,time]] [--seq-base N] [flags] CHANNEL < lines
//	kekbit verify CHANNEL
//	kekbit bench [--n N] [--size BYTES] [--readers R] [--json]
//	kekbit replicate --nats URL [--stream NAME] CHANNEL
//	kekbit mirror --nats URL --stream NAME CHANNEL
//
// Exit status: 0 on success and on the normal ends of a channel (closed,
// full, nothing more written yet); 1 when a channel cannot be created,
// opened or read, or is corrupt or truncated, with one line on stderr
// naming the file and the problem; 2 for usage errors.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kekbit-go/kekbit/bench"
)

// usageError marks an error in how the command was called (exit 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func main() {
	if bench.RunWorker() { // a writer or reader process of `kekbit bench`
		return
	}
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes the command line and returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRoot()
	root.SetArgs(joinFieldLists(root, args))
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
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

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "kekbit",
		Short:         "Inspect, follow, dump, verify, write and benchmark kekbit channels",
		Long:          "kekbit works with kekbit channel files: persistent, memory-mapped channels\nwith one writer and any number of readers (format 1.0.0, compatible with the\nRust crate kekbit).",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newInfo(), newLs(), newDump(), newVerify(), newWrite(), newBench(), newReplicate(), newMirror())
	root.AddCommand(newJournal())
	return root
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
