package domain

import (
	"errors"
	"fmt"
)

// Errors of the domain. Functions return them wrapped with details; test
// them with errors.Is.
var (
	// ErrInvalidHeader is matched by every *HeaderError.
	ErrInvalidHeader = errors.New("kekbit: invalid header")
	// ErrUnknownTickUnit is returned for a tick unit id other than 9, 6, 3, 0.
	ErrUnknownTickUnit = errors.New("kekbit: unknown tick unit")
	// ErrInvalidHints is returned by NewHeader for hints that give no valid
	// header.
	ErrInvalidHints = errors.New("kekbit: invalid header hints")
	// ErrStorageTooSmall is returned when a storage cannot hold the channel
	// its header describes.
	ErrStorageTooSmall = errors.New("kekbit: storage too small for the channel")

	// ErrChannelFull is returned by Write and Heartbeat once no record can
	// ever be written again, and by Read (inside a *ReadError) when the
	// reader reaches the end of the data region. It is terminal.
	ErrChannelFull = errors.New("kekbit: channel full")
	// ErrRecordTooLarge is returned by Write for a value that needs more
	// than the max record length: it can never be written to this channel.
	// Nothing is published and the writer stays usable.
	ErrRecordTooLarge = errors.New("kekbit: record larger than the max record length")
	// ErrNoSpace is returned by Write for a value that fits the max record
	// length but not the space left in the channel. Nothing is published
	// and the writer stays usable: a smaller value may still fit. It is
	// where a journal rolls to its next channel.
	ErrNoSpace = errors.New("kekbit: no space left in the channel for the record")
	// ErrEmptyPayload is returned by Write for a value that encodes to zero
	// bytes: the format cannot tell it from a heartbeat. Nothing is
	// published.
	ErrEmptyPayload = errors.New("kekbit: empty payload")
	// ErrEncoding wraps an error returned by the data format's encoder.
	// Nothing is published.
	ErrEncoding = errors.New("kekbit: encoding failed")
	// ErrWriterClosed is returned by every Writer method but Close after
	// Close.
	ErrWriterClosed = errors.New("kekbit: writer is closed")
	// ErrReaderClosed is returned by every Reader method but Close after
	// Close.
	ErrReaderClosed = errors.New("kekbit: reader is closed")

	// ErrNothingYet is returned by Read when it reached the writer's current
	// end: nothing is written there yet. It is not terminal; read again later.
	ErrNothingYet = errors.New("kekbit: nothing written yet")
	// ErrClosed: the writer closed the channel; nothing more will come.
	ErrClosed = errors.New("kekbit: channel closed by its writer")
	// ErrCorrupt: a length word is above the max record length, or a record
	// would cross the capacity.
	ErrCorrupt = errors.New("kekbit: channel corrupt")
	// ErrTruncated: the next record does not lie wholly inside the file.
	ErrTruncated = errors.New("kekbit: channel truncated")
	// ErrTimeout: nothing new arrived, not even a heartbeat, for the
	// header's timeout; the writer is presumed gone.
	ErrTimeout = errors.New("kekbit: channel timed out")

	// ErrWriterGone: nothing new and the storage says the writer no longer
	// holds the channel (its process died without closing it).
	ErrWriterGone = errors.New("kekbit: writer gone without closing the channel")
	// ErrLivenessUnknown is returned by WriterAlive when the storage cannot
	// tell whether the writer is alive.
	ErrLivenessUnknown = errors.New("kekbit: storage cannot tell whether the writer is alive")

	// ErrUnaligned is returned by MoveTo for a position that is not the
	// start of a record.
	ErrUnaligned = errors.New("kekbit: position is not the start of a record")
	// ErrUnavailable is returned by MoveTo for a position past what the
	// writer has written.
	ErrUnavailable = errors.New("kekbit: position not written yet")
)

// HeaderError says which header field is invalid, what was wanted and what
// the file holds. errors.Is(err, ErrInvalidHeader) matches it.
type HeaderError struct {
	Field string // field name, e.g. "capacity"
	Want  string // what a valid header holds there, e.g. ">= 16384, multiple of 8"
	Got   uint64 // what the header holds
}

func (e *HeaderError) Error() string {
	return fmt.Sprintf("kekbit: invalid header: %s: want %s, got %d (%#x)", e.Field, e.Want, e.Got, e.Got)
}

// Unwrap returns ErrInvalidHeader.
func (e *HeaderError) Unwrap() error { return ErrInvalidHeader }

// ReadError ends a read at a position: Err is one of ErrClosed,
// ErrChannelFull, ErrCorrupt, ErrTruncated, ErrTimeout or ErrWriterGone. errors.Is(err,
// ErrClosed) and the like match it.
type ReadError struct {
	Err       error  // the sentinel saying why
	Position  uint64 // where the reader stands (the position of the offending word)
	BytesRead int    // bytes the reader advanced in this Read before the end
	Word      uint64 // for ErrCorrupt and ErrTruncated: the length word found (0 if it is past the end of the file)

	// For ErrCorrupt found by the envelope or the close trailer: what
	// failed ("crc", "seq", "envelope", "trailer", "trailer_crc", "end"),
	// what the reader expected there and what it found: the CRC, the sequence
	// number, the envelope's length and the record's; for "trailer" the
	// records the trailer counts and those the reader counted (Word is then
	// the position the trailer says the channel was closed at); for
	// "trailer_crc" the CRC32C of the trailer's first 16 bytes and the one
	// it holds (Word is its first word); for "end" (the capacity reached
	// through zeros no writer published) the watermark and the 0 found.
	Check     string
	Want, Got uint64
}

func (e *ReadError) Error() string {
	switch e.Err {
	case ErrCorrupt:
		switch e.Check {
		case "crc":
			return fmt.Sprintf("%v: the record at position %d fails its CRC32C: want %#08x, got %#08x (after %d bytes read)", e.Err, e.Position, e.Want, e.Got, e.BytesRead)
		case "seq":
			return fmt.Sprintf("%v: the record at position %d has sequence number %d, want %d (after %d bytes read)", e.Err, e.Position, e.Got, e.Want, e.BytesRead)
		case "envelope":
			return fmt.Sprintf("%v: the record at position %d is %d bytes, shorter than its %d-byte envelope (after %d bytes read)", e.Err, e.Position, e.Got, e.Want, e.BytesRead)
		case "end":
			return fmt.Sprintf("%v: the reader reached the capacity at position %d through zeros, with no watermark or close mark there: the channel's tail was lost (after %d bytes read)", e.Err, e.Position, e.BytesRead)
		case "trailer_crc":
			return fmt.Sprintf("%v: the channel is closed at position %d, but its close trailer is damaged: CRC32C want %#08x, got %#08x, or its last 4 bytes are not zero (after %d bytes read)", e.Err, e.Position, e.Want, e.Got, e.BytesRead)
		case "trailer":
			return fmt.Sprintf("%v: the channel ends at position %d after %d records, but its writer closed it at %d after %d: records were lost (after %d bytes read)", e.Err, e.Position, e.Got, e.Word, e.Want, e.BytesRead)
		}
		return fmt.Sprintf("%v: length word %#x at position %d (after %d bytes read)", e.Err, e.Word, e.Position, e.BytesRead)
	case ErrTruncated:
		if e.Word == 0 { // a zero word would be a heartbeat, which fits: the word itself is cut
			return fmt.Sprintf("%v: the file ends inside the length word at position %d (after %d bytes read)", e.Err, e.Position, e.BytesRead)
		}
		return fmt.Sprintf("%v: the record at position %d (%d bytes) is not wholly in the file (after %d bytes read)", e.Err, e.Position, e.Word, e.BytesRead)
	}
	return fmt.Sprintf("%v at position %d (after %d bytes read)", e.Err, e.Position, e.BytesRead)
}

// Unwrap returns the sentinel in Err.
func (e *ReadError) Unwrap() error { return e.Err }
