package domain

import (
	"errors"

	"go.uber.org/multierr"

	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/ports"
)

// ErrReadOnlyStorage is returned by Resume for a storage that says it
// cannot be written (a reader's).
var ErrReadOnlyStorage = errors.New("kekbit: storage is read-only: open it for writing to resume the channel")

// Resume returns a writer that carries on appending to st, an existing
// channel whose writer is gone: its process died, or it gave the channel
// up with Release. It validates the header, walks the length words from
// position 0 to the watermark (the end of what was published) and returns
// a writer positioned there, as the old writer was. Values are encoded with
// enc.
//
// The caller must make sure that no other writer holds the channel: with
// the mmap backend, open st with mmap.OpenForWrite, which takes the
// writer's lock and refuses a channel whose writer is alive. Readers that
// gave the channel up meanwhile (ErrWriterGone, ErrTimeout) may start
// following it again.
//
// Errors: ErrReadOnlyStorage; a *HeaderError; ErrStorageTooSmall for a storage shorter than
// the file this package writes (a channel written by the Rust crate);
// and, inside a *ReadError, ErrClosed (a closed channel stays closed),
// ErrChannelFull, ErrCorrupt or ErrTruncated, with the position where the
// walk stopped.
func Resume[T any](st ports.Storage, enc codecs.Encoder[T], opts ...WriterOption) (*Writer[T], error) {
	// A storage mapped read-only (a reader's) would fault on the first
	// write: refuse it now.
	if ro, ok := st.(interface{ Writable() bool }); ok && !ro.Writable() {
		return nil, ErrReadOnlyStorage
	}
	h, err := readHeader(st)
	if err != nil {
		return nil, err
	}
	w, err := attach(st, h, enc, opts)
	if err != nil {
		return nil, err
	}
	pos, err := w.findEnd()
	if err != nil {
		return nil, err
	}
	w.pos = pos
	return w, nil
}

// findEnd walks the records and heartbeats from position 0 and returns the
// position of the watermark, where the next record goes.
func (w *Writer[T]) findEnd() (uint64, error) {
	pos := uint64(0)
	for {
		word, end, err := w.classifyGuarded(pos, w.capacity)
		switch err {
		case nil:
			pos = end
			continue
		case ErrNothingYet:
			return pos, nil
		case ErrClosed, ErrChannelFull, ErrCorrupt, ErrTruncated:
			return 0, &ReadError{Err: err, Position: pos, BytesRead: int(pos), Word: word}
		}
		return 0, err
	}
}

// Release gives the channel up without closing it: it flushes and closes
// the storage (for the mmap backend this unmaps the file and drops the
// writer's lock) but writes no close mark. Readers then find the channel
// as a writer whose process died leaves it (ErrWriterGone where the
// storage can tell, else ErrTimeout), and Resume can carry on appending
// later. After Release every Writer method returns ErrWriterClosed, and
// Close and Release do nothing.
func (w *Writer[T]) Release() error {
	if w.closed {
		return nil
	}
	w.closed = true
	return multierr.Combine(w.st.Flush(), w.st.Close())
}
