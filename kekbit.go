package kekbit

import (
	"context"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/ports"
)

// Header is a channel's metadata, the first 128 bytes of its file. Build
// one with NewHeader; a Writer's or Reader's Header says what the channel
// holds.
//
// Header, Hints and Wait have the fields of their namesakes in package
// domain, declared here so that go doc shows them; the conversions between
// the two keep them the same (a field added to one only fails to compile).
type Header struct {
	Version      Version  // the format the channel was written in
	WriterID     uint64   // the writer's id, as the writer chose it
	ChannelID    uint64   // the channel's id, which also names its file
	Capacity     uint32   // bytes in the data region
	MaxMsgLen    uint32   // the longest payload a writer accepts
	Timeout      uint64   // in TickUnit ticks: how long readers wait for anything
	CreationTime uint64   // in TickUnit ticks since the Unix epoch
	TickUnit     TickUnit // unit of Timeout and CreationTime

	// In the extension block (zero in format 1.0.0 channels):
	Envelope Envelope // the fields at the start of every record's payload
	SeqBase  uint64   // the sequence number of the channel's first record

	// In the extension block of a journal segment (zero otherwise):
	JournalID JournalID // the journal the channel is a segment of
	Segment   uint64    // the segment's index in the journal

	// MultiWriter: the channel takes records from many writers at once
	// (see Join).
	MultiWriter bool
}

// JournalID names a journal: 16 random bytes written in each of its
// segments' headers (see package journal).
type JournalID = domain.JournalID

func (h Header) domain() domain.Header { return domain.Header(h) }

// TimeoutDuration returns the timeout as a duration.
func (h Header) TimeoutDuration() time.Duration { return h.domain().TimeoutDuration() }

// Created returns the creation time.
func (h Header) Created() time.Time { return h.domain().Created() }

// FileSize is the size of the channel file this package writes for h:
// 1024 + Capacity + 32 bytes.
func (h Header) FileSize() int64 { return h.domain().FileSize() }

// MaxPayload is the longest payload a writer accepts: MaxMsgLen less the
// envelope.
func (h Header) MaxPayload() uint32 { return h.domain().MaxPayload() }

// Validate checks the fields a reader relies on and returns a *HeaderError
// for the first invalid one.
func (h Header) Validate() error { return h.domain().Validate() }

// MarshalBinary returns the 128 encoded bytes of the header.
func (h Header) MarshalBinary() ([]byte, error) { return h.domain().MarshalBinary() }

// UnmarshalBinary decodes and validates a header; see DecodeHeader.
func (h *Header) UnmarshalBinary(b []byte) error {
	d, err := DecodeHeader(b)
	if err == nil {
		*h = d
	}
	return err
}

// DecodeHeader decodes the header at the start of b and validates every
// field. It returns a *HeaderError naming the first invalid field.
func DecodeHeader(b []byte) (Header, error) {
	h, err := domain.DecodeHeader(b)
	return Header(h), err
}

// Hints are what a writer asks for; NewHeader turns them into a valid
// Header the way the Rust crate does.
type Hints struct {
	WriterID  uint64 // any id the writer likes; readers can see it
	ChannelID uint64 // the channel's id, which names its file
	// Capacity is rounded up to a multiple of 8 and to at least 16 KiB.
	Capacity uint32
	// MaxMsgLen becomes align8(min(MaxMsgLen+8, capacity/128-8)): the
	// longest payload the writer accepts.
	MaxMsgLen uint32
	// Timeout in TickUnit ticks: how long readers wait for anything,
	// heartbeats included, before they give the writer up. Set it: 0 means
	// a reader gives up at its second look at a channel with nothing new.
	Timeout  uint64
	TickUnit TickUnit
	// Clock gives the creation time; nil means time.Now.
	Clock func() time.Time
	// Envelope names the fields every record carries before its payload:
	// EnvelopeCRC, EnvelopeSeq, EnvelopeTime, or EnvelopeAll; 0 for none
	// (a format 1.0.0 channel). MaxMsgLen grows by the envelope's length.
	Envelope Envelope
	// SeqBase is the sequence number of the channel's first record.
	SeqBase uint64
	// MultiWriter makes a channel that any number of writers, in this
	// process and others, append to at once (see Join).
	MultiWriter bool
}

// NewHeader builds the header for the given hints. It fails only for an
// unknown tick unit or a capacity above 2^32-8.
func NewHeader(h Hints) (Header, error) {
	d, err := domain.NewHeader(domain.Hints(h))
	return Header(d), err
}

// TickUnit is the unit of a channel's timeout and creation time: Secs,
// Millis, Micros or Nanos. Its methods convert durations and times to ticks
// and back (see domain.TickUnit).
type TickUnit = domain.TickUnit

// Tick units of a header's timeout and creation time.
const (
	Secs   = domain.Secs
	Millis = domain.Millis
	Micros = domain.Micros
	Nanos  = domain.Nanos
)

// Envelope says which fields every record of a channel carries before its
// payload, checked by every reader: a CRC32C of the record, a sequence
// number, a timestamp. Its methods: Len (bytes per record), Has, String.
type Envelope = domain.Envelope

// The envelope fields; see FORMAT.md for their layout.
const (
	EnvelopeCRC  = domain.EnvelopeCRC  // CRC32C over the length word, the rest of the envelope, payload and padding
	EnvelopeSeq  = domain.EnvelopeSeq  // sequence number: SeqBase, then one more per record
	EnvelopeTime = domain.EnvelopeTime // write time in the header's tick unit since the epoch
	EnvelopeAll  = domain.EnvelopeAll  // all three
)

// ParseEnvelope reads "crc,seq,time" (any subset, any order), "all" or
// "none".
func ParseEnvelope(s string) (Envelope, error) { return domain.ParseEnvelope(s) }

// Version is a channel format version, major<<48 | minor<<32 | patch.
type Version = domain.Version

// CurrentVersion is the format this package writes: 1.0.0.
const CurrentVersion = domain.CurrentVersion

// Record is one record a reader hands out:
//
//	Position uint64 // where the record starts in the data region
//	Payload  []byte // the bytes; valid until the handler returns or the loop moves on
//
// and its method Next() uint64, the position after it: store it, and
// MoveTo(Next()) after a restart resumes with the next record. Every way
// of reading hands out Records, and Reader.Position() is always the Next
// of the last one handed out.
type Record = domain.Record

// Wait is how a following reader waits for the writer: it spins (re-reading
// at once) Spins times, then yields the processor Yields times, then sleeps,
// from MinSleep doubling up to MaxSleep. Any record or heartbeat starts it
// over. Spinning gives the lowest latency and burns a core; sleeping costs
// nothing and adds up to MaxSleep of latency. The zero Wait sleeps 1µs
// between looks. DefaultWait, Streaming and BusySpin are the presets.
type Wait struct {
	// Spins is how many looks to make on the CPU before yielding; -1
	// spins for ever.
	Spins int
	// Pause is how long each spin waits, on the CPU, before it looks again
	// (0: not at all): a busy writer runs faster, for up to Pause more
	// latency.
	Pause time.Duration
	// Yields is how many looks to make after the spins, each after
	// runtime.Gosched.
	Yields int
	// MinSleep and MaxSleep bound the sleeps after that.
	MinSleep time.Duration
	MaxSleep time.Duration
}

// The wait presets.
var (
	// DefaultWait spins for about a quarter of a millisecond, pausing 1µs
	// between looks, yields a little, then sleeps 1µs doubling up to 1ms.
	DefaultWait = Wait(domain.DefaultWait)
	// Streaming spins without sleeping, pausing 2µs between looks: a
	// reader that keeps up with a fast writer without slowing it.
	Streaming = Wait(domain.Streaming)
	// BusySpin never gives the processor up: the lowest latency, one core
	// always busy.
	BusySpin = Wait(domain.BusySpin)
)

// ReaderOption configures a Reader: WithWait, WithClock.
type ReaderOption = domain.ReaderOption

// WriterOption configures a Writer: WithFaultGuard, WithWriteClock,
// WithCoarseClock.
type WriterOption = domain.WriterOption

// WithWait sets how a reader waits in Follow and FollowRecords.
func WithWait(w Wait) ReaderOption { return domain.WithWait(domain.Wait(w)) }

// WithClaimBound sets how long a reader of a multi-writer channel waits
// at a claim before it asks whether the claim's writer died (and if so
// repairs the claim); the default is half the header's timeout.
func WithClaimBound(d time.Duration) ReaderOption { return domain.WithClaimBound(d) }

// WithClock makes a reader measure its timeout with now instead of
// time.Now.
func WithClock(now func() time.Time) ReaderOption { return domain.WithClock(now) }

// WithFaultGuard makes Write and Heartbeat on memory that can vanish (a
// mapped file another process cuts short under the writer) return
// ErrTruncated instead of crashing the process with SIGBUS. It costs about
// 8ns per record, so it is off by default. Close is always guarded.
func WithFaultGuard() WriterOption { return domain.WithFaultGuard() }

// WithWriteClock makes a writer stamp the records of a channel whose
// envelope has EnvelopeTime with now instead of time.Now.
func WithWriteClock(now func() time.Time) WriterOption { return domain.WithWriteClock(now) }

// MinCoarseResolution is the finest resolution WithCoarseClock accepts.
const MinCoarseResolution = domain.MinCoarseResolution

// WithCoarseClock makes a writer stamp the records of a channel whose
// envelope has EnvelopeTime from a clock that one goroutine of the process
// advances every resolution (at least MinCoarseResolution), instead of
// calling time.Now per record: a stamp costs a load, and is at most about
// one resolution behind the write, never ahead of it. The stamps never go
// backwards: after a step of the system's clock back they hold until it
// has caught up. The goroutine runs while a writer using it is open.
func WithCoarseClock(resolution time.Duration) WriterOption {
	return domain.WithCoarseClock(resolution)
}

// Create makes a new channel in vol for header h and returns its writer,
// which holds the channel until Close or Release. Values are encoded with
// enc. Readers cannot open the channel until its header and first
// heartbeat are in place. It fails with a *ChannelError matching
// ErrChannelExists if the id is taken, or the volume's error (for a full
// disk errors.Is(err, syscall.ENOSPC)), leaving nothing behind.
func Create[T any](vol ports.Volume, h Header, enc codecs.Encoder[T], opts ...WriterOption) (*Writer[T], error) {
	w, err := domain.Create(vol, h.domain(), enc, opts...)
	if err != nil {
		return nil, err
	}
	return &Writer[T]{w: w}, nil
}

// NewWriter makes st, a fresh zero-filled storage of at least h.FileSize()
// bytes that no volume manages, into a channel and returns its writer.
func NewWriter[T any](st ports.Storage, h Header, enc codecs.Encoder[T], opts ...WriterOption) (*Writer[T], error) {
	w, err := domain.NewWriter(st, h.domain(), enc, opts...)
	if err != nil {
		return nil, err
	}
	return &Writer[T]{w: w}, nil
}

// Resume returns a writer that carries on appending to channel channelID
// of vol, whose writer is gone (its process died, or it called Release),
// positioned after the last record published. The volume must be able to
// open a channel for writing (ports.WriteOpener: the mmap, file and memory
// volumes can); it refuses a channel whose writer is alive
// (ErrWriterAlive). A closed channel stays closed: ErrClosed inside a
// *ReadError.
func Resume[T any](vol ports.Volume, channelID uint64, enc codecs.Encoder[T], opts ...WriterOption) (*Writer[T], error) {
	wo, ok := vol.(ports.WriteOpener)
	if !ok {
		return nil, fmt.Errorf("kekbit: resume channel %#x: %T cannot open a channel for writing", channelID, vol)
	}
	st, err := wo.OpenForWrite(channelID)
	if err != nil {
		return nil, err
	}
	w, err := ResumeStorage(st, enc, opts...)
	if err != nil {
		st.Close()
		return nil, err
	}
	if id := w.Header().ChannelID; id != channelID {
		w.Release()
		return nil, &HeaderError{Field: "channel_id", Want: fmt.Sprintf("%d (%#x), the id it was opened by", channelID, channelID), Got: id}
	}
	return w, nil
}

// Join returns one more writer of the multi-writer channel channelID of
// vol (one made with Hints.MultiWriter), beside those already writing it,
// in this process or others: it opens the channel for writing (the mmap
// and memory volumes can, ports.Joiner) and takes a free writer slot,
// repairing the claim a dead writer left in it. A multi-writer channel has
// domain.Slots slots. Each goroutine that writes takes a writer of its
// own; a Writer is used by one goroutine at a time.
//
// On a multi-writer channel Release leaves the channel to the others and
// Close ends it for every writer: their next Write, Claim or Heartbeat
// returns ErrChannelClosed, and readers end with ErrClosed after the
// records claimed before the Close.
func Join[T any](vol ports.Volume, channelID uint64, enc codecs.Encoder[T], opts ...WriterOption) (*Writer[T], error) {
	w, err := domain.Join(vol, channelID, enc, opts...)
	if err != nil {
		return nil, err
	}
	return &Writer[T]{w: w}, nil
}

// JoinStorage is Join on a storage opened for writing by other means
// (one that holds no writer slot yet).
func JoinStorage[T any](st ports.Storage, enc codecs.Encoder[T], opts ...WriterOption) (*Writer[T], error) {
	w, err := domain.JoinStorage(st, enc, opts...)
	if err != nil {
		return nil, err
	}
	return &Writer[T]{w: w}, nil
}

// ResumeStorage is Resume on a storage opened for writing by other means;
// the caller must make sure that no other writer holds the channel.
func ResumeStorage[T any](st ports.Storage, enc codecs.Encoder[T], opts ...WriterOption) (*Writer[T], error) {
	w, err := domain.Resume(st, enc, opts...)
	if err != nil {
		return nil, err
	}
	return &Writer[T]{w: w}, nil
}

// Open opens channel channelID of vol for reading, at its first record. It
// fails at once with a *ChannelError matching ErrChannelNotFound if there
// is no such channel, ErrChannelNotReady while it is being created, or with
// a *HeaderError (the header's channel id not being channelID included).
func Open(vol ports.Volume, channelID uint64, opts ...ReaderOption) (*Reader, error) {
	r, err := domain.Open(vol, channelID, opts...)
	if err != nil {
		return nil, err
	}
	return &Reader{r: r}, nil
}

// OpenWhenReady is Open that waits while the channel does not exist yet or
// is still being created, until ctx is done (ctx.Err() wrapped with the
// last error seen).
func OpenWhenReady(ctx context.Context, vol ports.Volume, channelID uint64, opts ...ReaderOption) (*Reader, error) {
	r, err := domain.OpenWhenReady(ctx, vol, channelID, opts...)
	if err != nil {
		return nil, err
	}
	return &Reader{r: r}, nil
}

// NewReader reads and validates the header of st, a storage no volume
// manages (a copy of a channel file, say), and returns a reader at its
// first record. The reader owns st: Close closes it; on error st stays
// open.
func NewReader(st ports.Storage, opts ...ReaderOption) (*Reader, error) {
	r, err := domain.NewReader(st, opts...)
	if err != nil {
		return nil, err
	}
	return &Reader{r: r}, nil
}

// RemoveAbandoned removes channel channelID of vol if no writer holds it
// (it was closed or released, or its writer died) or its creator died
// before it was ready, so the id can be used again. It refuses a channel
// whose writer is alive (ErrWriterAlive) or whose creator is at work
// (ErrChannelNotReady), and returns ErrChannelNotFound if there is none.
// The volume must tell who holds a channel (ports.AbandonedRemover: the
// mmap, file and memory volumes can).
func RemoveAbandoned(vol ports.Volume, channelID uint64) error {
	ar, ok := vol.(ports.AbandonedRemover)
	if !ok {
		return fmt.Errorf("kekbit: remove abandoned channel %#x: %T cannot tell who holds a channel", channelID, vol)
	}
	return ar.RemoveAbandoned(channelID)
}

// ShmWriter creates channel h.ChannelID under root (root/HHHH_HHHH/LLLL_LLLL.kekbit,
// mapped into memory) and returns its writer: Create on mmap.NewVolume(root).
// It makes a missing root 0700, refuses a root or channel folder another
// user could subvert (ErrUntrusted) and a symbolic link below the root
// (ErrSymlink), and takes over an id whose creator died mid-create.
func ShmWriter[T any](root string, h Header, enc codecs.Encoder[T], opts ...WriterOption) (*Writer[T], error) {
	return Create(mmap.NewVolume(root), h, enc, opts...)
}

// ShmReader opens channel channelID under root for reading, mapped
// read-only: Open on mmap.NewVolume(root). What is not a channel is
// refused at once: ErrNotRegular, ErrSymlink, ErrHole, ErrUntrusted;
// ErrChannelNotReady (with ErrCreatorGone if its creator died) while a lock
// file is there.
func ShmReader(root string, channelID uint64, opts ...ReaderOption) (*Reader, error) {
	return Open(mmap.NewVolume(root), channelID, opts...)
}

// TryShmReader is ShmReader that waits for the channel to appear and be
// ready, until ctx is done: OpenWhenReady on mmap.NewVolume(root). It
// waits through ErrChannelNotFound and ErrChannelNotReady only (a dead
// creator's id included, which a new writer may take over); what is not a
// channel (a FIFO at its path, ...) returns at once.
func TryShmReader(ctx context.Context, root string, channelID uint64, opts ...ReaderOption) (*Reader, error) {
	return OpenWhenReady(ctx, mmap.NewVolume(root), channelID, opts...)
}

// DefaultRoot is this user's folder for channels on this machine:
// kekbit-UID under /dev/shm (RAM) where it exists, else under the
// temporary folder, UID being the process's effective user id (a number,
// not $USER: it cannot be set to another user's, and names the same user
// after a rename); "kekbit" where the system has no user ids (Windows,
// where the root is always under the temporary folder, os.TempDir()).
// Every user has a root of their own, which a volume makes 0700 when it
// makes the first channel there. Another user cannot take it over: a root
// found owned by another user or writable by others is refused
// (ErrUntrusted), and one planted as another user's symbolic link too
// (ErrSymlink), so channels never land where someone else chose. In a
// folder every user may write (/dev/shm) another user can still make the
// name first and so deny it: choose a root of your own then (for example
// under $XDG_RUNTIME_DIR). A root for a group of users is chosen by the
// caller and opted in with mmap.WithSharedRoot.
func DefaultRoot() string {
	name := "kekbit"
	if uid := os.Geteuid(); uid >= 0 {
		name = fmt.Sprintf("kekbit-%d", uid)
	}
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() && runtime.GOOS != "windows" {
		return filepath.Join("/dev/shm", name) // (Wine has a \dev\shm folder)
	}
	return filepath.Join(os.TempDir(), name)
}

// Writer appends records to one channel, encoding values of type T. It is
// not safe for concurrent use. A channel made with Hints.MultiWriter takes
// any number of writers at once (see Join), one per goroutine; any other
// has one writer: guard it with a mutex if several goroutines write.
type Writer[T any] struct{ w *domain.Writer[T] }

// Write encodes v straight into the channel and publishes it as one record.
// It returns the bytes the record takes: length word, payload and padding.
//
// Errors, on which nothing is published:
//   - ErrChannelFull: no record fits any more (terminal);
//   - ErrNoSpace: v fits the max record length but not the space left; a
//     smaller value may still fit (roll to a new channel here);
//   - ErrRecordTooLarge: v needs more than the max record length;
//   - ErrEmptyPayload: v encodes to nothing, which the format cannot tell
//     from a heartbeat;
//   - ErrEncoding: the encoder failed;
//   - ErrWriterClosed; ErrTruncated with WithFaultGuard.
func (w *Writer[T]) Write(v T) (int, error) { return w.w.Write(v) }

// WriteBatch writes the values of vs as records, in order, and returns
// how many went in: all of them, or those before the one whose error it
// returns (Write's errors). On a multi-writer channel one claim holds up
// to 64 of them, so writers that share a channel contend once per batch
// instead of once per record; on any other it is Write once per value.
func (w *Writer[T]) WriteBatch(vs []T) (int, error) { return w.w.WriteBatch(vs) }

// Claim reserves room for a record of up to n payload bytes and returns
// them to fill in place: in the channel itself on a mapped or memory
// channel, so a record is built where readers will read it, with no copy.
// Commit(m) publishes the first m bytes as one record, Abort gives the
// room up; until then Write, Heartbeat and another Claim return
// ErrClaimOpen. Errors, on which no claim is open: ErrEmptyPayload (n <
// 1), ErrRecordTooLarge, ErrNoSpace, ErrChannelFull, ErrWriterClosed.
// Filling the bytes is the caller's own access to the channel's memory:
// WithFaultGuard does not cover it.
//
//	b, err := w.Claim(len(order))
//	n := order.MarshalTo(b)
//	w.Commit(n)
func (w *Writer[T]) Claim(n int) ([]byte, error) { return w.w.Claim(n) }

// Commit publishes the first m bytes of the open claim as one record (its
// envelope filled on a channel that has one), gives the rest up and closes
// the claim; it returns the bytes the record takes. Errors: ErrNoClaim;
// ErrEmptyPayload (m < 1) and ErrCommitSize (m above the claim), on which
// the claim stays open; ErrTruncated with WithFaultGuard.
func (w *Writer[T]) Commit(m int) (int, error) { return w.w.Commit(m) }

// Abort gives the open claim up: nothing is published and its bytes are
// zero again. Close and Release abort an open claim too. It returns
// ErrNoClaim if none is open.
func (w *Writer[T]) Abort() error { return w.w.Abort() }

// Heartbeat appends a heartbeat, a record with no payload that readers skip
// but that tells them the writer is alive. It returns 8, or ErrChannelFull
// or ErrWriterClosed.
func (w *Writer[T]) Heartbeat() (int, error) { return w.w.Heartbeat() }

// Flush asks the storage to make what was written durable (msync, fsync).
// Records are visible to readers without it.
func (w *Writer[T]) Flush() error { return w.w.Flush() }

// Close writes the close mark, so readers learn the channel is over, then
// flushes and closes the storage. A second Close does nothing.
func (w *Writer[T]) Close() error { return w.w.Close() }

// Release gives the channel up without closing it: readers then find it as
// a dead writer leaves it, and Resume can carry on later. After Release
// every method returns ErrWriterClosed, and Close and Release do nothing.
func (w *Writer[T]) Release() error { return w.w.Release() }

// Available returns the bytes left in the data region, rounded down to 8.
func (w *Writer[T]) Available() uint32 { return w.w.Available() }

// Records returns how many records the channel holds: those this writer
// wrote, and for a resumed channel those before it.
func (w *Writer[T]) Records() uint64 { return w.w.Records() }

// Dropped returns the bytes of a torn tail that Resume dropped (records
// after the last that passed verification, and what a crash left beyond
// them); 0 for a writer that Create made.
func (w *Writer[T]) Dropped() uint64 { return w.w.Dropped() }

// WriteOffset returns the write position: the bytes written to the data
// region so far, where the next record goes.
func (w *Writer[T]) WriteOffset() uint32 { return w.w.WriteOffset() }

// Header returns the channel's header.
func (w *Writer[T]) Header() Header { return Header(w.w.Header()) }

// Format returns the channel's data format.
func (w *Writer[T]) Format() codecs.Format { return w.w.Format() }

// Reader follows one channel from a position of its own. Any number of
// readers, in any process, may read a channel while its writer appends. A
// Reader is not safe for concurrent use.
//
// Read, Records, Follow and FollowRecords hand out the same Records;
// Position is always the Next of the last record handed out, and
// MoveTo(Next) after a restart resumes with the record after it.
type Reader struct{ r *domain.Reader }

// Read hands the records from the reader's position to handler, up to max
// records (max <= 0: no limit), skipping heartbeats, and returns the bytes
// it advanced. It never blocks (but through the file backend, whose
// reads can see a length word half written, it reads an impossible one
// again for up to about 100 ms before it calls it corrupt). Its error
// says where it stopped: nil (max records handed out), ErrNothingYet (it caught up with the writer: read
// again later), a *ReadError where the channel ends (ErrClosed,
// ErrChannelFull, ErrCorrupt, ErrTruncated, ErrTimeout), the error handler
// returned (the reader then stands after that record), ErrReaderClosed, or
// an I/O error.
func (r *Reader) Read(handler func(Record) error, max int) (int, error) {
	return r.r.Read(handler, max)
}

// Records returns an iterator over the records available now, from the
// reader's position. The loop ends at the writer's end or where the channel
// ends; Err then says which (nil: caught up, or the loop was broken off).
func (r *Reader) Records() iter.Seq[Record] { return r.r.Records() }

// Follow hands records to handler as they arrive, waiting (see WithWait)
// while the writer has nothing new. It returns the *ReadError where the
// channel ends (ErrClosed, ErrChannelFull, ErrCorrupt, ErrTruncated,
// ErrTimeout, ErrWriterGone), the error handler returned, ctx.Err() when ctx
// is done, or an I/O error.
func (r *Reader) Follow(ctx context.Context, handler func(Record) error) error {
	return r.r.Follow(ctx, handler)
}

// FollowRecords is Follow as an iterator: it yields records as they arrive
// and ends where the channel ends or ctx is done; Err then says why (nil if
// the loop was broken off).
func (r *Reader) FollowRecords(ctx context.Context) iter.Seq[Record] { return r.r.FollowRecords(ctx) }

// Err returns why the last Records or FollowRecords loop ended.
func (r *Reader) Err() error { return r.r.Err() }

// MoveTo puts the reader at pos, the start of a record (a Record's
// Position or Next) or the writer's current end, so that reading resumes
// or replays from there. ErrUnaligned for a position inside a record,
// ErrUnavailable for one past what is written; the reader is not moved on
// error.
func (r *Reader) MoveTo(pos uint64) error { return r.r.MoveTo(pos) }

// Position returns the position after the last record handed out: where
// the next read starts. Inside a handler or loop body it is the Next of the
// record at hand.
func (r *Reader) Position() uint64 { return r.r.Position() }

// SeekSeq puts the reader at the record whose sequence number is seq (on
// a channel without an envelope: whose number, counting from 0, it is), so
// the next record handed out is that one. It takes O(log n) on a sparse
// index the reader keeps, built by one walk over what is new, and a walk of
// at most 128 records. ErrUnavailable for a number not written yet.
func (r *Reader) SeekSeq(seq uint64) error { return r.r.SeekSeq(seq) }

// SeekTime puts the reader at the first record written at t or later, on a
// channel whose envelope has EnvelopeTime (ErrNoTimestamps otherwise), the
// same way as SeekSeq. ErrUnavailable if no record is that late yet.
func (r *Reader) SeekTime(t time.Time) error {
	return r.r.SeekTime(r.r.Header().TickUnit.At(t))
}

// Seq returns the sequence number of the record at hand (inside a handler
// or loop body: the last one handed out) on a channel with an envelope;
// 0 on one without.
func (r *Reader) Seq() uint64 { return r.r.Seq() }

// Time returns when the record at hand was written, in the header's tick
// unit since the Unix epoch, on a channel whose envelope has EnvelopeTime;
// else 0.
func (r *Reader) Time() uint64 { return r.r.Time() }

// WriterAlive asks the storage whether the channel's writer still holds it
// (for files: whether its process holds the writer's lock). It returns
// ErrLivenessUnknown if the storage cannot tell.
func (r *Reader) WriterAlive() (bool, error) { return r.r.WriterAlive() }

// Header returns the channel's header.
func (r *Reader) Header() Header { return Header(r.r.Header()) }

// Close closes the reader's storage. A second Close returns nil.
func (r *Reader) Close() error { return r.r.Close() }

// Value is a decoded record: the value and where its record lies.
type Value[T any] struct {
	Position uint64 // where the record starts
	Next     uint64 // the position after it, to resume from
	Value    T      // the decoded payload
}

// Decode turns an iterator of records (Reader.Records, Reader.FollowRecords)
// into one of values decoded with dec. A payload dec refuses is yielded
// with its error, and the loop goes on unless the body breaks out:
//
//	for v, err := range kekbit.Decode(r.FollowRecords(ctx), codecs.JSON[Order]{}) {
//		if err != nil { ... }
//		handle(v.Value)
//	}
func Decode[T any](records iter.Seq[Record], dec codecs.Decoder[T]) iter.Seq2[Value[T], error] {
	return func(yield func(Value[T], error) bool) {
		for rec := range records {
			v, err := dec.Decode(rec.Payload)
			if err != nil {
				err = fmt.Errorf("%w: %s at position %d: %w", ErrDecoding, dec.MediaType(), rec.Position, err)
			}
			if !yield(Value[T]{Position: rec.Position, Next: rec.Next(), Value: v}, err) {
				return
			}
		}
	}
}

// Sizes of the format, for sizing a channel.
const (
	MinCapacity = domain.MinCapacity // the smallest data region, 16 KiB
	MaxCapacity = domain.MaxCapacity // the largest data region, 2^32-8 bytes
)

// RecordSize returns the bytes a record with an n-byte payload takes in
// the data region: its length word, the payload and the padding to 8.
func RecordSize(n uint64) uint64 { return domain.RecordSize(n) }
