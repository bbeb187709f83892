package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/kekbit-go/kekbit"
	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/ports"
)

func newRm() *cobra.Command {
	var ch channelFlags
	var force bool
	cmd := &cobra.Command{
		Use:   "rm [--force] ROOT --channel ID | rm [--force] CHANNEL",
		Short: "Remove a channel no writer holds: abandoned, closed, or left by a creator that died",
		Long: "rm removes a channel's file and its lock file so that its id can be used\n" +
			"again, if nobody is at work on it: no writer holds it (it was closed or\n" +
			"left unclosed by a writer that is gone: abandoned), or its creator died\n" +
			"before the channel was ready. It asks the library (kekbit.RemoveAbandoned),\n" +
			"which takes the writer's and the creator's locks first, so that no writer\n" +
			"can come back in between. It refuses, exit 1 and one line saying why, a\n" +
			"channel whose writer is alive or whose creator is still making it, and a\n" +
			"channel that is not there.\n" +
			"\n" +
			"--force also removes a channel whose state the library cannot tell: one the\n" +
			"Rust crate wrote and did not close (its writer takes no lock, so rm cannot\n" +
			"see whether it still runs), and one whose locks cannot be taken (a file\n" +
			"system without flock). Even with --force, rm never removes a channel whose\n" +
			"writer or creator holds its lock.\n" +
			"\n" +
			"The channel is named by ROOT and --channel ID (or --root ROOT), or by its\n" +
			"path. It prints \"removed PATH\" for what it removed.",
		Example: "  kekbit rm /dev/shm/kekbit-$USER --channel 42\n" +
			"  kekbit rm /dev/shm/kekbit-$USER/0000_0000/0000_002a.kekbit\n" +
			"  kekbit rm --force copy.kekbit",
		Args: oneChannel,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 && ch.channel.set && ch.root == "" { // rm ROOT --channel ID
				ch.root, args = args[0], nil
			}
			path, id, known, err := ch.resolve(args)
			if err != nil {
				return err
			}
			// known: the path is where a root's layout puts channel id.
			if err := remove(path, id, known, force); err != nil {
				return err
			}
			if _, err := fmt.Fprintf(cmd.OutOrStdout(), "removed %s\n", path); err != nil {
				return outputError{err}
			}
			return nil
		},
	}
	ch.add(cmd)
	cmd.Flags().BoolVar(&force, "force", false, "also remove a channel whose state cannot be told (never one whose writer or creator holds its lock)")
	return cmd
}

// remove removes the channel at path, channel id of the root two folders
// up if layout, else a file of its own, as rm says.
func remove(path string, id uint64, layout, force bool) error {
	if !force && crateUnclosed(path) {
		return fmt.Errorf("%s: not removed: the Rust crate wrote it and did not close it, and its writer takes no lock, so whether it still writes cannot be told (--force removes it)", path)
	}
	var vol ports.Volume = mmap.NewFileVolume(path)
	if layout {
		vol = mmap.NewVolume(filepath.Dir(filepath.Dir(path)))
	}
	err := kekbit.RemoveAbandoned(vol, id)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ports.ErrWriterAlive):
		return fmt.Errorf("%s: not removed: its writer is alive (a process holds the writer's lock: stop it, or let it close the channel)", path)
	case errors.Is(err, ports.ErrChannelNotReady):
		return fmt.Errorf("%s: not removed: its creator is still making it (a process holds its lock file's lock)", path)
	case errors.Is(err, ports.ErrChannelNotFound):
		return fmt.Errorf("%s: not removed: %w", path, kekbit.ErrChannelNotFound)
	case !force:
		return fmt.Errorf("%s: not removed: whether a writer holds it cannot be told (--force removes it anyway): %w", path, err)
	}
	return forceRemove(path)
}

// crateUnclosed reports whether the channel at path is one the Rust
// crate's writer may still be writing: it reads as a channel that is
// neither closed nor full, and its storage cannot tell whether a writer
// holds it (the crate's writer takes no lock).
func crateUnclosed(path string) bool {
	r, err := openReader(path, true)
	if err != nil {
		return false
	}
	defer r.Close()
	_, end := r.Read(func(domain.Record) error { return nil }, 0)
	if errors.Is(end, domain.ErrClosed) || errors.Is(end, domain.ErrChannelFull) {
		return false
	}
	_, err = r.WriterAlive()
	return errors.Is(err, domain.ErrLivenessUnknown)
}

// forceRemove removes the channel file at path and its lock file without
// the library (rm --force, when its locks cannot be taken), unless a
// writer is seen to hold it.
func forceRemove(path string) error {
	if st, err := mmap.OpenFile(path); err == nil {
		alive, _ := st.WriterAlive()
		st.Close()
		if alive {
			return fmt.Errorf("%s: not removed: its writer is alive (a process holds the writer's lock), even with --force", path)
		}
	}
	err := os.Remove(path)
	if errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	if lerr := os.Remove(mmap.LockPath(path)); lerr != nil && !errors.Is(lerr, os.ErrNotExist) {
		err = errors.Join(err, lerr)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
