package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/ports"
)

// channelFlags name a channel by --root and --channel instead of a path.
type channelFlags struct {
	root    string
	channel idFlag
}

func (f *channelFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.root, "root", "", "folder of channels (with --channel)")
	cmd.Flags().Var(&f.channel, "channel", "channel id, decimal (42) or 0x-hex (0x2a) only (with --root)")
}

// resolve returns the channel's file path and, when known, its id.
func (f *channelFlags) resolve(args []string) (path string, id uint64, known bool, err error) {
	switch {
	case len(args) == 1 && (f.root != "" || f.channel.set):
		return "", 0, false, usagef("name the channel by a path or by --root and --channel, not both")
	case len(args) == 1:
		path = args[0]
		if id, err := mmap.ParseChannelPath(filepath.Dir(filepath.Dir(path)), path); err == nil {
			return path, id, true, nil
		}
		return path, 0, false, nil
	case len(args) > 1:
		return "", 0, false, usagef("one channel at a time, got %d arguments", len(args))
	case f.root == "" || !f.channel.set:
		return "", 0, false, usagef("name a channel: a file path, or --root DIR --channel ID")
	}
	return mmap.ChannelPath(f.root, f.channel.id), f.channel.id, true, nil
}

// summary is what a full read of a channel tells.
type summary struct {
	Path        string
	Header      domain.Header
	WriteOffset uint64
	Records     int
	Heartbeats  int
	State       string
	WriterAlive bool
	End         error // the read end: a *domain.ReadError or ErrNothingYet

	// On an enveloped channel:
	FirstSeq, LastSeq uint64        // the sequence numbers of the first and last good records
	Trailer           *closeTrailer // the close trailer, if the writer left one

	Warning string // set by info: the header names another channel id than the path
}

// openReader opens the channel file at path for reading, with errors that
// name the file. With raw it reads the channel as a format 1.0.0 one, its
// extension block unseen (see plainView): each record as stored, envelope
// included, unchecked.
func openReader(path string, raw bool, opts ...domain.ReaderOption) (*domain.Reader, error) {
	r, _, err := openChannel(path, raw, opts...)
	return r, err
}

// openChannel is openReader that also returns the storage the reader owns.
func openChannel(path string, raw bool, opts ...domain.ReaderOption) (*domain.Reader, ports.Storage, error) {
	mst, err := mmap.OpenFile(path)
	if err != nil {
		if strings.Contains(err.Error(), path) {
			return nil, nil, err // the library's error names the path already
		}
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	var st ports.Storage = mst
	if raw {
		st = plainView{mst}
	}
	r, err := domain.NewReader(st, opts...)
	if err != nil {
		st.Close()
		return nil, nil, fmt.Errorf("%s: not a kekbit channel: %w", path, err)
	}
	return r, st, nil
}

// scan reads the whole channel at path, verifying every record of an
// enveloped channel, and sums it up. A read that ends corrupt or
// truncated is not an error here: s.End says so.
func scan(path string) (summary, error) {
	r, st, err := openChannel(path, false)
	if err != nil {
		return summary{}, err
	}
	defer r.Close()
	s := summary{Path: path, Header: r.Header()}
	var recordBytes uint64
	n, end := r.Read(func(rec domain.Record) error {
		if s.Records == 0 {
			s.FirstSeq = r.Seq()
		}
		s.LastSeq = r.Seq()
		s.Records++
		// Not rec.Next(): on an enveloped channel the payload handed out
		// leaves out the envelope; the reader stands after the record.
		recordBytes += r.Position() - rec.Position
		return nil
	}, 0)
	if end != nil && !isChannelEnd(end) {
		return s, fmt.Errorf("%s: %w", path, end)
	}
	s.End = end
	s.WriteOffset = r.Position()
	s.Heartbeats = int((uint64(n) - recordBytes) / domain.RecordHeaderLen)
	s.WriterAlive, _ = r.WriterAlive()
	s.State = stateOf(end, s.WriterAlive)
	if s.Header.Envelope != 0 {
		if t, ok := readTrailer(st); ok {
			s.Trailer = &t
		}
	}
	return s, nil
}

// isChannelEnd reports whether err is one of the ways a read ends.
func isChannelEnd(err error) bool {
	for _, e := range []error{domain.ErrNothingYet, domain.ErrClosed, domain.ErrChannelFull, domain.ErrCorrupt, domain.ErrTruncated, domain.ErrTimeout, domain.ErrWriterGone} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// stateOf names a channel's state from where a full read ended.
func stateOf(end error, alive bool) string {
	switch {
	case errors.Is(end, domain.ErrClosed):
		return "closed"
	case errors.Is(end, domain.ErrChannelFull):
		return "full"
	case errors.Is(end, domain.ErrCorrupt):
		return "corrupt"
	case errors.Is(end, domain.ErrTruncated):
		return "truncated"
	case alive:
		return "open"
	}
	return "abandoned"
}

// endName is the name of a read end in dump's output.
func endName(err error) string {
	switch {
	case err == nil, errors.Is(err, domain.ErrNothingYet):
		return "watermark"
	case errors.Is(err, domain.ErrClosed):
		return "closed"
	case errors.Is(err, domain.ErrChannelFull):
		return "full"
	case errors.Is(err, domain.ErrTruncated):
		return "truncated"
	case errors.Is(err, domain.ErrCorrupt):
		return "corrupt"
	case errors.Is(err, domain.ErrTimeout):
		return "timeout"
	case errors.Is(err, domain.ErrWriterGone):
		return "writer-gone"
	}
	return strings.ReplaceAll(err.Error(), " ", "-")
}

// countRecords counts the records of the channel at path from position
// from on, for a progress report; 0 if it cannot be read.
func countRecords(path string, raw bool, from uint64) uint64 {
	r, err := openReader(path, raw)
	if err != nil {
		return 0
	}
	defer r.Close()
	if from != 0 && r.MoveTo(from) != nil {
		return 0
	}
	var n uint64
	r.Read(func(domain.Record) error { n++; return nil }, 0)
	return n
}

// waitPoll is how often waitReader looks for the channel.
const waitPoll = 10 * time.Millisecond

// waitReader is openReader once the channel at path is ready: the file is
// there and its lock file, which its creator holds while it makes it, is
// gone. It waits until then or until ctx is done.
//
// A creator that died leaves its lock file, and waitReader then waits
// until ctx is done: telling a dead creator from a slow one is the
// library's to do (see mmap's lock-file protocol), and this is where the
// command would ask it.
func waitReader(ctx context.Context, path string, raw bool) (*domain.Reader, error) {
	t := time.NewTicker(waitPoll)
	defer t.Stop()
	for {
		_, errFile := os.Stat(path)
		_, errLock := os.Stat(mmap.LockPath(path))
		if errFile == nil && errors.Is(errLock, fs.ErrNotExist) {
			r, err := openReader(path, raw)
			if !errors.Is(err, ports.ErrChannelNotFound) { // gone again: wait on
				return r, err
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s: interrupted while waiting for the channel to be created", path)
		case <-t.C:
		}
	}
}
