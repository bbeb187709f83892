package kekbit

import (
	"errors"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/ports"
)

// Errors. Functions return them wrapped with details; test them with
// errors.Is.
var (
	// Writing.

	// ErrChannelFull is returned by Write and Heartbeat once no record can
	// ever be written again, and ends a read (inside a *ReadError) at the
	// end of the data region. It is terminal.
	ErrChannelFull = domain.ErrChannelFull
	// ErrNoSpace is returned by Write for a value that fits the max record
	// length but not the space left: a smaller value may still fit. Roll
	// to a new channel here.
	ErrNoSpace = domain.ErrNoSpace
	// ErrClaimOpen is returned by Write, Heartbeat and Claim while a claim
	// is open: commit or abort it first.
	ErrClaimOpen = domain.ErrClaimOpen
	// ErrNoClaim is returned by Commit and Abort when no claim is open.
	ErrNoClaim = domain.ErrNoClaim
	// ErrCommitSize is returned by Commit for more bytes than its claim
	// holds; the claim stays open.
	ErrCommitSize = domain.ErrCommitSize
	// ErrRecordTooLarge is returned by Write for a value that needs more
	// than the max record length: no channel of this header takes it.
	ErrRecordTooLarge = domain.ErrRecordTooLarge
	// ErrEmptyPayload is returned by Write for a value that encodes to
	// zero bytes, which the format cannot tell from a heartbeat.
	ErrEmptyPayload = domain.ErrEmptyPayload
	// ErrEncoding wraps the error of the data format's encoder.
	ErrEncoding = domain.ErrEncoding
	// ErrWriterClosed is returned by a Writer's methods after Close or
	// Release.
	ErrWriterClosed = domain.ErrWriterClosed

	// Reading.

	// ErrNothingYet is returned by Read when it caught up with the writer.
	// It is not terminal: read again later.
	ErrNothingYet = domain.ErrNothingYet
	// ErrClosed ends a read: the writer closed the channel.
	ErrClosed = domain.ErrClosed
	// ErrTimeout ends a read: nothing, not even a heartbeat, for the
	// header's timeout.
	ErrTimeout = domain.ErrTimeout
	// ErrWriterGone ends a follow: the writer's process died without
	// closing the channel.
	ErrWriterGone = domain.ErrWriterGone
	// ErrCorrupt ends a read at a length word that makes no sense.
	ErrCorrupt = domain.ErrCorrupt
	// ErrTruncated ends a read where the file ends inside a record (a cut
	// or partial copy).
	ErrTruncated = domain.ErrTruncated
	// ErrDecoding wraps the error of the data format's decoder, in Decode.
	ErrDecoding = errors.New("kekbit: decoding failed")
	// ErrReaderClosed is returned by a Reader's methods after Close.
	ErrReaderClosed = domain.ErrReaderClosed
	// ErrLivenessUnknown is returned by WriterAlive when the storage cannot
	// tell (a channel written by the Rust crate, whose writer takes no
	// lock).
	ErrLivenessUnknown = domain.ErrLivenessUnknown
	// ErrUnaligned is returned by MoveTo for a position inside a record.
	ErrUnaligned = domain.ErrUnaligned
	// ErrUnavailable is returned by MoveTo for a position past what is
	// written, and by SeekSeq and SeekTime for a record not written yet.
	ErrUnavailable = domain.ErrUnavailable
	// ErrNoTimestamps is returned by SeekTime on a channel whose records
	// carry no time.
	ErrNoTimestamps = domain.ErrNoTimestamps

	// Headers.

	// ErrInvalidHeader is matched by every *HeaderError.
	ErrInvalidHeader = domain.ErrInvalidHeader
	// ErrInvalidHints is returned by NewHeader for hints that give no
	// valid header.
	ErrInvalidHints = domain.ErrInvalidHints
	// ErrStorageTooSmall is returned for a storage that cannot hold the
	// channel its header describes.
	ErrStorageTooSmall = domain.ErrStorageTooSmall
	// ErrReadOnlyStorage is returned by ResumeStorage for a reader's
	// storage.
	ErrReadOnlyStorage = domain.ErrReadOnlyStorage
	// ErrChannelClosed is returned by a multi-writer channel's Write,
	// Claim and Heartbeat once one of its writers closed the channel; it
	// matches ErrWriterClosed.
	ErrChannelClosed = domain.ErrChannelClosed
	// ErrNoSlot is returned by Join when every writer slot of the channel
	// is held by a live writer.
	ErrNoSlot = domain.ErrNoSlot
	// ErrNotMultiWriter is returned by Join for a single-writer channel.
	ErrNotMultiWriter = domain.ErrNotMultiWriter
	// ErrMultiWriter is returned by Resume for a multi-writer channel:
	// Join it instead.
	ErrMultiWriter = domain.ErrMultiWriter

	// Volumes.

	// ErrChannelExists: Create of an id already taken.
	ErrChannelExists = ports.ErrChannelExists
	// ErrChannelNotFound: no channel has the id.
	ErrChannelNotFound = ports.ErrChannelNotFound
	// ErrChannelNotReady: the channel is still being created.
	ErrChannelNotReady = ports.ErrChannelNotReady
	// ErrWriterAlive: Resume or RemoveAbandoned of a channel whose writer
	// still holds it.
	ErrWriterAlive = ports.ErrWriterAlive

	// Channel files (the mmap volumes of ShmWriter and ShmReader).

	// ErrNotRegular: a channel's path names a FIFO, a folder, a device or
	// a socket, not a regular file; found at once, without blocking.
	ErrNotRegular = mmap.ErrNotRegular
	// ErrHole: a channel file's records run into a hole of the file before
	// an end mark: a planted sparse file, refused at the cost of its real
	// size.
	ErrHole = mmap.ErrHole
	// ErrSymlink: a channel folder or file below the root is a symbolic
	// link, which is never followed there (a link planted in a shared root
	// cannot send a writer elsewhere); the error names the link.
	ErrSymlink = mmap.ErrSymlink
	// ErrUntrusted: a root or channel folder owned by another user, or
	// writable by others, which could subvert it; the error names the
	// folder, its owner and mode. A group-shared root is opted in with
	// mmap.WithSharedRoot.
	ErrUntrusted = mmap.ErrUntrusted
)

// ReadError ends a read at a position. Its fields:
//
//	Err       error  // ErrClosed, ErrChannelFull, ErrCorrupt, ErrTruncated, ErrTimeout or ErrWriterGone
//	Position  uint64 // where the reader stands: the position of the word that ended the read
//	BytesRead int    // bytes the reader advanced in this call before the end
//	Word      uint64 // for ErrCorrupt and ErrTruncated: the length word found
//
// errors.Is(err, ErrClosed) and the like match it.
type ReadError = domain.ReadError

// HeaderError says which header field is invalid. Its fields:
//
//	Field string // the field, e.g. "capacity"
//	Want  string // what a valid header holds there
//	Got   uint64 // what the header holds
//
// errors.Is(err, ErrInvalidHeader) matches it.
type HeaderError = domain.HeaderError

// ChannelError is the error of a volume's operation on one channel. Its
// fields:
//
//	Op        string // "create", "open", "open for write", "remove", ...
//	ChannelID uint64
//	Path      string // the channel's file, "" for a volume without files
//	Err       error  // ErrChannelExists, ErrChannelNotFound, ..., and/or the system's error
//
// It names the channel and its path once; errors.Is sees through it.
type ChannelError = ports.ChannelError
