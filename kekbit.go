// Package kekbit is the front door of kekbit for Go: persistent data
// channels in shared memory. One writer appends records to a
// fixed-capacity channel file; readers in this process or others follow it
// live, replay it from any record, and learn when it is closed, full,
// abandoned or corrupt.
//
// This package gives the short names for the common case, channel files in
// a folder mapped into memory (the Rust crate's layout, so its channels open
// unchanged):
//
//	w, err := kekbit.ShmWriter(root, header, codecs.Raw{})
//	r, err := kekbit.ShmReader(root, channelID)
//
// The full API is in package domain (Header, Writer, Reader, errors); the
// backends are in adapters/mmap (files mapped into memory), adapters/file
// (plain files through afero) and adapters/memory (in-process); the data
// formats in codecs; replication across machines in replicate/jetstream.
package kekbit

import (
	"context"
	"os"
	"path/filepath"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/ports"
)

// Header is a channel's metadata; see domain.Header.
type Header = domain.Header

// Hints are what a writer asks for; see domain.Hints.
type Hints = domain.Hints

// Reader follows a channel; see domain.Reader.
type Reader = domain.Reader

// Writer appends to a channel; see domain.Writer.
type Writer[T any] = domain.Writer[T]

// The errors most programs test for, from packages domain and ports; test
// them with errors.Is.
var (
	ErrNothingYet      = domain.ErrNothingYet     // a read caught up with the writer
	ErrClosed          = domain.ErrClosed         // the writer closed the channel
	ErrChannelFull     = domain.ErrChannelFull    // no more records fit
	ErrTimeout         = domain.ErrTimeout        // nothing, not even a heartbeat, for the header's timeout
	ErrWriterGone      = domain.ErrWriterGone     // the writer's process died without closing
	ErrCorrupt         = domain.ErrCorrupt        // a length word makes no sense
	ErrTruncated       = domain.ErrTruncated      // the file ends inside a record
	ErrRecordTooLarge  = domain.ErrRecordTooLarge // a Write larger than the max or the space left
	ErrChannelExists   = ports.ErrChannelExists   // a writer tried an id already taken
	ErrChannelNotFound = ports.ErrChannelNotFound // no channel has the id
	ErrChannelNotReady = ports.ErrChannelNotReady // the channel is still being created
)

// Tick units of a header's timeout and creation time.
const (
	Nanos  = domain.Nanos
	Micros = domain.Micros
	Millis = domain.Millis
	Secs   = domain.Secs
)

// WithWait sets how a reader waits in Follow; see domain.Wait.
func WithWait(w domain.Wait) domain.ReaderOption { return domain.WithWait(w) }

// NewHeader builds a header from hints; see domain.NewHeader.
func NewHeader(h Hints) (Header, error) { return domain.NewHeader(h) }

// ShmWriter creates channel h.ChannelID under root (root/HHHH_HHHH/LLLL_LLLL.kekbit)
// and returns its writer, which holds the channel until Close. It fails if
// the channel exists (ports.ErrChannelExists), or with the file system's
// error (errors.Is(err, syscall.ENOSPC) for a full disk), leaving nothing
// behind.
func ShmWriter[T any](root string, h Header, format codecs.Encoder[T], opts ...domain.WriterOption) (*Writer[T], error) {
	return domain.Create(mmap.NewVolume(root), h, format, opts...)
}

// ShmReader opens channel channelID under root for reading, read-only. It
// fails at once if the channel does not exist (ports.ErrChannelNotFound)
// or is still being created (ports.ErrChannelNotReady).
func ShmReader(root string, channelID uint64, opts ...domain.ReaderOption) (*Reader, error) {
	return domain.Open(mmap.NewVolume(root), channelID, opts...)
}

// TryShmReader is ShmReader that waits for the channel to appear and be
// ready, until ctx is done.
func TryShmReader(ctx context.Context, root string, channelID uint64, opts ...domain.ReaderOption) (*Reader, error) {
	return domain.OpenWhenReady(ctx, mmap.NewVolume(root), channelID, opts...)
}

// RemoveAbandoned removes channel channelID under root if nobody is at
// work on it (its writer closed it, released it or died; or its creator
// died before it was ready), so the id can be used again. It refuses, with
// ErrWriterAlive, a channel whose writer is still running, with
// ErrChannelNotReady one a live creator is still making, and returns
// ErrChannelNotFound if there is none. See mmap.Volume.RemoveAbandoned.
func RemoveAbandoned(root string, channelID uint64) error {
	return mmap.NewVolume(root).RemoveAbandoned(channelID)
}

// ErrWriterAlive is returned by RemoveAbandoned for a channel whose writer
// still holds it (ports.ErrWriterAlive, as mmap.OpenForWrite returns it).
var ErrWriterAlive = ports.ErrWriterAlive

// DefaultRoot is a folder for channels on this machine: kekbit under
// /dev/shm (RAM) where it exists, else under the temporary folder.
func DefaultRoot() string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		return filepath.Join("/dev/shm", "kekbit")
	}
	return filepath.Join(os.TempDir(), "kekbit")
}
