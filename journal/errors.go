package journal

import (
	"errors"
	"fmt"

	"github.com/kekbit-go/kekbit/domain"
)

// Errors. Functions return them wrapped with details; test them with
// errors.Is (and errors.As for the typed ones).
var (
	// ErrJournalLive is returned by OpenWriter when another writer is at
	// work on the journal: it holds its last segment, or is making the
	// next one.
	ErrJournalLive = errors.New("kekbit: journal: another writer is at work on the journal")
	// ErrNotJournal is returned for a channel in the journal's volume that
	// is not a journal segment (its header has no journal id).
	ErrNotJournal = errors.New("kekbit: journal: the channel is not a journal segment")
	// ErrWriterClosed is returned by a Writer's methods after Close or
	// Release.
	ErrWriterClosed = errors.New("kekbit: journal: writer is closed")
	// ErrRecordTooLarge is returned by Write for a value that needs more
	// than a segment's max record length (WithMaxPayload, WithSegmentSize).
	ErrRecordTooLarge = domain.ErrRecordTooLarge
	// ErrEmptyPayload is returned by Write for a value that encodes to
	// nothing, which the format cannot tell from a heartbeat.
	ErrEmptyPayload = domain.ErrEmptyPayload
	// ErrEncoding wraps the encoder's error in Write.
	ErrEncoding = domain.ErrEncoding
	// ErrRoll wraps the error of making the next segment when Write had to
	// roll: nothing was written, and the writer stays on its segment (the
	// next Write tries again).
	ErrRoll = errors.New("kekbit: journal: rolling to the next segment failed")

	// ErrClosed ends a read: the journal's writer closed the journal, and
	// the reader has read all of it.
	ErrClosed = errors.New("kekbit: journal: journal closed by its writer")
	// ErrNothingYet is returned by Read when it caught up with the writer
	// (or no segment exists yet). It is not terminal: read again later.
	ErrNothingYet = domain.ErrNothingYet
	// ErrReaderClosed is returned by a Reader's methods after Close.
	ErrReaderClosed = errors.New("kekbit: journal: reader is closed")
	// ErrUnavailable is returned by the seeks for a place not written
	// yet.
	ErrUnavailable = domain.ErrUnavailable
	// ErrPruned matches a *PrunedError: the segment a reader needs was
	// removed by retention.
	ErrPruned = errors.New("kekbit: journal: the segment was removed by retention")
	// ErrOtherJournal matches a *JournalIDError: a stored position, or a
	// segment, belongs to another journal.
	ErrOtherJournal = errors.New("kekbit: journal: position or segment of another journal")
	// ErrReaderBusy is returned when a named reader is opened while
	// another holds the same name (positions that can tell: mmap).
	ErrReaderBusy = errors.New("kekbit: journal: the named reader is in use")
	// ErrNoName is returned by Commit on a reader opened without a name.
	ErrNoName = errors.New("kekbit: journal: the reader has no name to commit its position under")
	// ErrBadPosition is returned for a position store's record that fails
	// its check (a damaged file).
	ErrBadPosition = errors.New("kekbit: journal: stored position is damaged")
)

// PrunedError says that the segment a reader needs is gone: retention
// removed it. Oldest is the oldest position the journal still holds.
type PrunedError struct {
	Want      string   // what the reader wanted: "position 3:0", "sequence number 12"
	Oldest    Position // the first record of the oldest segment left
	OldestSeq uint64   // its sequence number
}

func (e *PrunedError) Error() string {
	return fmt.Sprintf("kekbit: journal: %s was removed by retention; the oldest left starts at %v (sequence number %d)", e.Want, e.Oldest, e.OldestSeq)
}

// Unwrap returns ErrPruned.
func (e *PrunedError) Unwrap() error { return ErrPruned }

// JournalIDError says that a position or a segment belongs to another
// journal than the one at hand (say, a journal made again under the same
// folder).
type JournalIDError struct {
	What string           // "stored position of reader NAME", "segment N"
	Want domain.JournalID // the journal at hand
	Got  domain.JournalID // the one it belongs to
}

func (e *JournalIDError) Error() string {
	return fmt.Sprintf("kekbit: journal: %s belongs to journal %v, not %v", e.What, e.Got, e.Want)
}

// Unwrap returns ErrOtherJournal.
func (e *JournalIDError) Unwrap() error { return ErrOtherJournal }
