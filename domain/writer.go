package domain

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime/debug"

	"go.uber.org/multierr"

	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/internal/atomicx"
	"github.com/kekbit-go/kekbit/ports"
)

// WriterOption configures a Writer.
type WriterOption func(*options)

type options struct {
	guard bool
}

// WithFaultGuard makes Write and Heartbeat on memory that can vanish (a
// mapped file that another process cuts short under the writer) return
// ErrTruncated instead of crashing the process with SIGBUS. It costs about
// 8ns per record, so it is off by default: the writer holds its file
// locked and its blocks reserved, and only a process ignoring the lock can
// cut it short. Close is always guarded.
func WithFaultGuard() WriterOption { return func(o *options) { o.guard = true } }

// Writer appends records to one channel. There is one writer per channel and
// it is not safe for concurrent use: guard it with a mutex if several
// goroutines write.
type Writer[T any] struct {
	st      ports.Storage
	mem     []byte           // the storage's bytes when addressable, else nil
	words   []uint64         // the same memory as words, for atomic length words
	scratch []byte           // encode buffer when the storage is not addressable
	faults  ports.FaultProne // the storage, if its memory can vanish and writes are guarded
	raw     bool             // enc is codecs.Raw: Write copies without calling it
	options

	closeFaults ports.FaultProne // the storage, if its memory can vanish
	enc         codecs.Encoder[T]
	hdr         Header
	capacity    uint64
	maxMsg      uint64
	pos         uint64 // write position: where the next record goes
	closed      bool
}

// NewWriter makes st, a fresh zero-filled storage of at least
// h.FileSize() bytes, into a channel: it writes the header and the first
// heartbeat, and returns the writer positioned after it. Values are encoded
// with enc.
func NewWriter[T any](st ports.Storage, h Header, enc codecs.Encoder[T], opts ...WriterOption) (*Writer[T], error) {
	if err := h.Validate(); err != nil {
		return nil, err
	}
	w, err := attach(st, h, enc, opts)
	if err != nil {
		return nil, err
	}
	hb := make([]byte, HeaderLen)
	h.put(hb)
	if _, err := st.WriteAt(hb, 0); err != nil {
		return nil, fmt.Errorf("kekbit: writing the header: %w", err)
	}
	if err := w.publish(HeartbeatLen, RecordHeaderLen); err != nil {
		return nil, err
	}
	return w, nil
}

// attach makes a writer for header h on st, at position 0, without writing
// anything.
func attach[T any](st ports.Storage, h Header, enc codecs.Encoder[T], opts []WriterOption) (*Writer[T], error) {
	if st.Size() < h.FileSize() {
		return nil, fmt.Errorf("%w: %d bytes, channel of capacity %d needs %d", ErrStorageTooSmall, st.Size(), h.Capacity, h.FileSize())
	}
	w := &Writer[T]{st: st, enc: enc, hdr: h, capacity: uint64(h.Capacity), maxMsg: uint64(h.MaxMsgLen)}
	_, w.raw = any(enc).(codecs.Raw)
	w.mem, w.words = addressable(st)
	if w.mem == nil {
		w.scratch = make([]byte, w.maxMsg)
	} else {
		w.closeFaults, _ = st.(ports.FaultProne)
	}
	for _, o := range opts {
		o(&w.options)
	}
	if w.guard {
		w.faults = w.closeFaults
	}
	return w, nil
}

// Create makes a new channel in vol for header h and returns its writer.
// Readers cannot open the channel until its header and first heartbeat are
// in place. It fails if the channel id is taken (ports.ErrChannelExists).
func Create[T any](vol ports.Volume, h Header, enc codecs.Encoder[T], opts ...WriterOption) (*Writer[T], error) {
	if err := h.Validate(); err != nil {
		return nil, err
	}
	var w *Writer[T]
	_, err := vol.Create(h.ChannelID, h.FileSize(), func(st ports.Storage) error {
		var err error
		w, err = NewWriter(st, h, enc, opts...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return w, nil
}

// Write encodes v straight into the channel and publishes it as one record.
// It returns the bytes the record takes: length word, payload and padding.
//
// Errors: ErrChannelFull (terminal: no record fits any more),
// ErrRecordTooLarge (v needs more than the max record length or the space
// left; the writer stays usable), ErrEmptyPayload (v encodes to nothing,
// which the format cannot tell from a heartbeat), ErrEncoding (the encoder
// failed), ErrWriterClosed. On any error nothing is published.
func (w *Writer[T]) Write(v T) (int, error) {
	if w.faults != nil {
		return w.writeGuarded(v)
	}
	return w.write(v)
}

// writeGuarded is write on memory that can vanish: a fault becomes
// ErrTruncated instead of a crash.
func (w *Writer[T]) writeGuarded(v T) (n int, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer catchFault(w.faults, &err)
	return w.write(v)
}

func (w *Writer[T]) write(v T) (int, error) {
	if w.closed {
		return 0, ErrWriterClosed
	}
	avail := (w.capacity - w.pos) &^ 7
	if avail <= RecordHeaderLen {
		return 0, ErrChannelFull
	}
	room := min(w.maxMsg, avail-RecordHeaderLen)
	start := DataOffset + w.pos + RecordHeaderLen
	var dst []byte
	if w.mem != nil {
		dst = w.mem[start : start+room : start+room]
	} else {
		dst = w.scratch[:room]
	}
	var n int
	var err error
	if b, ok := any(v).([]byte); w.raw && ok {
		if len(b) > len(dst) {
			err = codecs.ErrShortBuffer
		} else {
			n = copy(dst, b)
		}
	} else {
		n, err = w.enc.Encode(dst, v)
	}
	if err != nil || n <= 0 || uint64(n) > room {
		return 0, w.refuse(dst, n, err, room, avail)
	}
	size := RecordSize(uint64(n))
	if w.words == nil {
		clear(dst[n : size-RecordHeaderLen])
		if _, err := w.st.WriteAt(dst[:size-RecordHeaderLen], int64(start)); err != nil {
			return 0, fmt.Errorf("kekbit: writing record at position %d: %w", w.pos, err)
		}
		if err := w.publish(uint64(n), size); err != nil {
			return 0, err
		}
		return int(size), nil
	}
	// The fast path: publish by hand (see publish), zeroing the padding,
	// the high bytes of the payload's last little-endian word.
	pos := w.pos
	if tail := uint64(n) & 7; tail != 0 {
		w.words[(start+uint64(n))/8] &= 1<<(8*tail) - 1
	}
	w.words[(DataOffset+pos+size)/8] = Watermark
	atomicx.StoreRelease(&w.words[(DataOffset+pos)/8], uint64(n))
	w.pos = pos + size
	return int(size), nil
}

// refuse builds the error for a Write whose encoding did not give a
// publishable payload, and wipes what the encoder may have left in the
// channel past the write position.
func (w *Writer[T]) refuse(dst []byte, n int, err error, room, avail uint64) error {
	if w.mem != nil {
		clear(dst)
	}
	switch {
	case errors.Is(err, codecs.ErrShortBuffer):
		return fmt.Errorf("%w: room for %d bytes (max record length %d, space left %d): %w",
			ErrRecordTooLarge, room, w.maxMsg, avail-RecordHeaderLen, err)
	case err != nil:
		return fmt.Errorf("%w: %s: %w", ErrEncoding, w.enc.MediaType(), err)
	case n == 0:
		return ErrEmptyPayload
	}
	return fmt.Errorf("%w: encoder reported %d bytes for a room of %d", ErrEncoding, n, room)
}

// Heartbeat appends a heartbeat, a record with no payload that readers skip
// but that tells them the writer is alive. It returns 8, or ErrChannelFull
// or ErrWriterClosed.
func (w *Writer[T]) Heartbeat() (int, error) {
	if w.faults != nil {
		return w.heartbeatGuarded()
	}
	return w.heartbeat()
}

func (w *Writer[T]) heartbeatGuarded() (n int, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer catchFault(w.faults, &err)
	return w.heartbeat()
}

func (w *Writer[T]) heartbeat() (int, error) {
	if w.closed {
		return 0, ErrWriterClosed
	}
	if (w.capacity-w.pos)&^7 <= RecordHeaderLen {
		return 0, ErrChannelFull
	}
	if err := w.publish(HeartbeatLen, RecordHeaderLen); err != nil {
		return 0, err
	}
	return RecordHeaderLen, nil
}

// publish marks the slot after the record as not yet written, then stores
// the record's length word, which makes it visible to readers.
func (w *Writer[T]) publish(length, size uint64) error {
	if w.words != nil {
		// A plain store is enough for the watermark: no reader can load
		// this word before it has loaded the length word stored below.
		w.words[(DataOffset+w.pos+size)/8] = Watermark
	} else if err := w.store(w.pos+size, Watermark); err != nil {
		return err
	}
	if err := w.store(w.pos, length); err != nil {
		return err
	}
	w.pos += size
	return nil
}

func (w *Writer[T]) store(pos, v uint64) error {
	if w.words != nil {
		atomicx.StoreRelease(&w.words[(DataOffset+pos)/8], v)
		return nil
	}
	if err := w.st.StoreUint64(int64(DataOffset+pos), v); err != nil {
		return fmt.Errorf("kekbit: storing word at position %d: %w", pos, err)
	}
	return nil
}

// Flush asks the storage to make what was written durable (msync, fsync).
// Records are visible to readers without it.
func (w *Writer[T]) Flush() error {
	if w.closed {
		return ErrWriterClosed
	}
	return w.st.Flush()
}

// Close writes the close mark, so readers learn the channel is over, then
// flushes and closes the storage. The errors of all three steps are
// combined. A second Close does nothing and returns nil.
func (w *Writer[T]) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	err := w.markClosed()
	return multierr.Combine(err, w.st.Flush(), w.st.Close())
}

// markClosed stores the close mark, guarded against a fault.
func (w *Writer[T]) markClosed() (err error) {
	if w.closeFaults != nil {
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer catchFault(w.closeFaults, &err)
	}
	return w.store(w.pos, CloseMark)
}

// Available returns the bytes left in the data region, rounded down to 8.
func (w *Writer[T]) Available() uint32 { return uint32((w.capacity - w.pos) &^ 7) }

// WriteOffset returns the write position: the bytes written to the data
// region so far.
func (w *Writer[T]) WriteOffset() uint32 { return uint32(w.pos) }

// Header returns the channel's header.
func (w *Writer[T]) Header() Header { return w.hdr }

// Format returns the channel's data format.
func (w *Writer[T]) Format() codecs.Format { return w.enc }

// addressable returns the storage's memory views when it offers them on a
// little-endian machine, where a native word is the file's word.
func addressable(st ports.Storage) ([]byte, []uint64) {
	a, ok := st.(ports.Addressable)
	if !ok || !littleEndian {
		return nil, nil
	}
	return a.Bytes(), a.Words()
}

var littleEndian = func() bool {
	var b [2]byte
	binary.NativeEndian.PutUint16(b[:], 1)
	return b[0] == 1
}()
