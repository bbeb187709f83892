// Package jetstream carries a kekbit channel beyond its machine through
// NATS JetStream: Replicate follows a local channel and publishes its
// records to a stream; Mirror consumes the stream into a channel on another
// machine with the same header and the same records at the same positions,
// so readers there use the ordinary reader API and the kekbit command.
//
//	err := jetstream.Replicate(ctx, jetstream.ReplicateConfig{
//		Volume: mmap.NewVolume("/dev/shm/kekbit"), ChannelID: 42, URL: "nats://a:4222,nats://b:4222,nats://c:4222", Replicas: 3,
//	})
//	// on another machine
//	err := jetstream.Mirror(ctx, jetstream.MirrorConfig{
//		Volume: mmap.NewVolume("/dev/shm/kekbit"), Stream: jetstream.StreamName(42), URL: "nats://a:4222,nats://b:4222,nats://c:4222",
//	})
//
// # The stream
//
// Each channel has a stream of its own (StreamName(id), subject
// Subject(id) by default), which Replicate creates if needed. It holds a
// chain: a header marker (the channel's 128-byte header as payload, its
// fields in headers), then batches, each of the channel's records and
// heartbeats from where the one before ended, in channel order, and an
// end marker (Kekbit-End: closed or full, at the channel's final
// position). Every message has the header Kekbit-Channel.
//
// # The batch format (version 1)
//
// A batch has the headers Kekbit-Marker "batch", Kekbit-Pos (the channel
// position of its first element: where the message before it ended) and
// Kekbit-Next (the position right after its last), and Nats-Msg-Id
// BatchMsgID: "<channel id in hex>:<pos>-<next>". Its payload is one byte,
// the format version (BatchVersion, 1), then its elements back to back:
//
//	record:           uvarint(n), n > 0, [uvarint(t)], then its n payload bytes
//	heartbeats:       0, then uvarint(c), c > 0: c heartbeats in a row
//
// (uvarint as encoding/binary writes it). The payload goes without the
// record envelope, if the channel has one; t, the record's time in the
// channel's ticks, is there only when the envelope has EnvelopeTime: the
// mirror's writer seals the record again with it (and with the sequence
// number its count gives), so the mirror holds the source's very bytes. A
// record of n bytes takes domain.RecordSize(E+n) bytes of the channel
// (E the envelope's length, 0 without one), a heartbeat 8, so each
// element's position is the batch's Kekbit-Pos plus what the elements
// before it take, and the last ends at Kekbit-Next, which the reader
// checks. A batch holds at most ReplicateConfig.BatchBytes of payload
// (64 KiB by default) and 8,192 elements; a record larger than that goes
// alone. A version other than 1 is refused with ErrBadMessage, naming it.
// A reader checks a batch whole before it applies any of it, and refuses
// with ErrBadMessage, naming what is wrong, one that claims more than its
// bytes hold or than the channel holds: a uvarint cut short, a record
// longer than the bytes left or than the channel's max payload, a time
// that the channel's tick unit cannot hold, a run of heartbeats or a
// record past Kekbit-Next, elements that end before it, a Kekbit-Next past
// the channel's capacity. What it takes is bounded by the message's bytes,
// not by the lengths and counts they claim. (A mirror reads a stream
// anyone allowed to publish into it may have written into: what NATS lets
// through is NATS's permissions' business, but no message makes a mirror
// hang, run out of memory, or write anything of a message it refuses.)
//
// Streams of earlier versions hold one message per record (the payload
// as is, Kekbit-Pos its position, Nats-Msg-Id MsgID, and Kekbit-Gap for
// the heartbeats before it, if any) and idle markers (Kekbit-Marker
// "idle", at the position after the heartbeats they carry, Kekbit-Gap
// their bytes). Mirror reads them and Replicate carries such a stream on
// with batches: a stream may hold both, old messages first. (Mirrors of
// earlier versions refuse a batch: "Kekbit-Marker batch".)
//
// The stream must keep every message: Replicate refuses one whose limits
// drop messages (ErrStreamLimits, naming them: max_age; max_msgs or
// max_bytes with discard old; max_msgs_per_subject; a retention other than
// limits) unless AcceptLimits, and Replicate and Mirror refuse one that
// lost messages (ErrStreamLost: empty though its last sequence is past its
// first, or its first message is not the header marker) rather than take
// it for a new stream.
//
// # Exactly once, in order
//
// Every message says where it must land: Nats-Expected-Last-Sequence is
// the stream sequence of the message before it in the chain. The stream
// leader stores a message only if the stream's last message is at that
// sequence, so a message lost on the way (a broken connection, a leader
// change, a timeout) cannot be followed by a later one.
//
// Where a batch ends depends on when the replicator read the channel, so
// the chain is not a function of the channel alone, and a sequence says
// nothing of which message is there. The replicator therefore has one
// message in flight at a time: it publishes a message only once the one
// before it is acknowledged at the very sequence expected, as the
// replicator's own message (a duplicate there is its own too: the ids
// name the channel bytes a batch holds, and those bytes never change,
// once the stream's header marker is known to be the channel's). The
// header marker counts as the channel's only when the replicator's own
// publish stored it, or once a re-sync compared it with the channel's
// header: one acknowledged as a duplicate, or refused because another
// landed first (another channel with the same id, say, whose header
// marker has the same message id), sends the replicator to re-sync,
// which compares them (ErrMismatch if they differ).
// Every message thus names as its predecessor a message that is in the
// stream for good and ends where it begins. A message that lands later
// than its publisher expected (an answer lost, a second replicator of the
// channel, an earlier run's message still on its way) lands either right
// after the message it was built on, or not at all. Throughput comes from
// the batches: while one waits for its acknowledgement the writer goes on,
// and the next batch takes all it wrote, up to BatchBytes.
// (Nats-Expected-Last-Msg-Id, which would let the stream check the
// predecessor's id itself and allow several batches in flight, is not
// used: nats-server 2.15.2 checks it on every replica against the last id
// that replica stored, which a restarted replica that caught up from a
// snapshot does not update, so that replica refuses every later message
// while the others store them: TestClusterServerStopped found a replica
// stuck at 24,538 of 300,153 messages.)
//
// On one machine a replicator holds a lock file next to the channel file
// (ReplicatorLockPath: flock, for its whole run), so a second replicator
// of the channel into the same stream stops at once with
// ErrReplicatorRunning.
//
// At a failure the replicator drops the answer it awaits, asks the stream
// leader for its last message on the subject, moves its reader right
// after that message's last element (checking that the channel holds the
// same bytes there, for a record) and carries on. Starting again after a
// crash is the same re-sync. Since the check is made by the stream's
// leader against the stream itself, the stream holds each record exactly
// once and in order whenever the replicator process, its connection or a
// server of the cluster fails. (What JetStream itself keeps after losing a
// majority of its servers is JetStream's business: see README.md.)
//
// Failures are retried with exponential back-off (MinBackoff to
// MaxBackoff) for as long as the context allows, cut short when a lost
// connection comes back; nothing is dropped or reordered. An
// acknowledgement that has not come StallTimeout (500ms) after its
// message went out is taken for lost (its message went to a leader that
// stepped down): the replicator drops the answer and re-syncs at
// once instead of waiting AckTimeout (10s). Both log when their
// connection goes away and when it comes back. The replicator is just
// another reader of the channel: the writer is never slowed, and a
// replicator that falls behind catches up from the channel, which holds
// everything until it is full.
//
// # The mirror
//
// Mirror reads the stream with an ordered consumer, checks every element
// against the chain (a batch must begin where the last element ended, an
// old record message's position minus its gap too: a lost or repeated
// record stops the mirror with ErrMismatch), writes the heartbeats and
// records, and checks that the mirror channel's write position is each
// record's position in the source. Heartbeats are written as they come,
// so readers of the mirror do not time out while the source's writer
// idles; the end marker closes the mirror channel.
//
// A mirror that stops (its context, an error, a crash) leaves its channel
// open and writerless; started again, it resumes it: it reads the channel
// to its end, checks its last record against the stream, takes the
// channel over with mmap.OpenForWrite and domain.Resume (refused while
// another mirror holds it), finds the message that holds its last record
// by bisecting the stream on the last position of each message, and reads
// the stream again from there: what follows that record must continue the
// chain, heartbeats up to the channel's write position (which it does not
// write again), then the rest, applied as by a mirror that never stopped
// (a message that breaks the chain is ErrMismatch, also one right after
// the last the mirror applied). A heartbeat's element is at the position
// after it, which it may share with the record (or end marker) after it:
// the bisection orders the elements of one position heartbeat, record,
// end marker, so it finds the mirror's last record itself and not the
// heartbeat before it.
//
// A mirror killed while it created its channel leaves the channel's lock
// file, which its creator's lock no longer holds, and the channel file as
// far as it got (none, empty, zeros, half a header, or whole): the next
// mirror sees a dead creator (the lock is free), removes both (the channel
// file first) and creates the channel afresh; it waits, retrying, while a
// live creator holds the lock. A kill at any moment thus leaves nothing,
// a channel to create again, or a channel to resume.
//
// # Journals
//
// ReplicateJournal replicates a journal (package journal) into one stream
// (JournalStreamName, JournalSubject): its segments, channels 0, 1, ...,
// one after the other, each from its header marker to its end marker as
// above, following the writer's rolls. The end marker of a segment that
// carries the journal end mark has Kekbit-Journal-End: true. A
// segment's header marker follows the end marker of the one before (the
// chain goes on across segments, each message checked against its
// predecessor as above); positions start again at 0 in each segment. A
// replicator started again goes on with the stream's last segment if it
// has no end marker yet, else with the next. MirrorJournal makes the
// segments in a local folder with the source's headers and records
// (so the same sequence numbers), resuming its last segment if it is not
// complete (as Mirror resumes a channel), and applies a retention of its
// own. Bisections on a journal's stream order messages by segment, then
// position.
//
// See README.md next to this file for running against a JetStream cluster
// and the exact guarantees.
package jetstream
