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
// backends are in adapters/mmap (files mapped into memory), adapters/memory
// (in-process) and the formats in codecs.
package kekbit

import (
	"context"
	"os"
	"path/filepath"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
)

// Header is a channel's metadata; see domain.Header.
type Header = domain.Header

// Hints are what a writer asks for; see domain.Hints.
type Hints = domain.Hints

// Reader follows a channel; see domain.Reader.
type Reader = domain.Reader

// Writer appends to a channel; see domain.Writer.
type Writer[T any] = domain.Writer[T]

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

// DefaultRoot is a folder for channels on this machine: kekbit under
// /dev/shm (RAM) where it exists, else under the temporary folder.
func DefaultRoot() string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		return filepath.Join("/dev/shm", "kekbit")
	}
	return filepath.Join(os.TempDir(), "kekbit")
}
