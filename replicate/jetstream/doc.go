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
// fields in headers), then one message per record and per heartbeat in
// channel order, and an end marker (Kekbit-End: closed or full, at the
// channel's final position). A record's message has the payload as is and
// headers Kekbit-Channel and Kekbit-Pos; a heartbeat's is an idle marker
// at the position right after the heartbeat, with Kekbit-Gap 8 (streams
// made by earlier versions also hold records with a Kekbit-Gap, for the
// heartbeats before them, and idle markers covering several heartbeats:
// a mirror reads both). Every message has a Nats-Msg-Id derived from the
// channel id and the position (MsgID), so JetStream's duplicate window
// drops a re-send.
//
// The chain is thus a function of the channel alone: its k-th message is
// the channel's k-th record or heartbeat, whoever publishes it and
// whenever (earlier versions published one idle marker for the
// heartbeats of a while, at moments of the replicator's own, so two
// replicators built different chains).
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
// The replicator publishes asynchronously, up to Window messages waiting
// for their acknowledgements, and every message says where it must land:
// Nats-Expected-Last-Sequence is the stream sequence of the message before
// it in the chain. The stream leader stores a message only if the stream's
// last message is its predecessor, so a message lost on the way (a broken
// connection, a leader change, a timeout) cannot be followed by a later
// one: everything after it is refused. Since the chain depends on the
// channel alone, the message at a sequence is the same whichever
// replicator put it there, so two replicators of one channel (two
// machines sharing it) cannot build one chain out of two histories either.
// (Nats-Expected-Last-Msg-Id, which would check the predecessor's id, is
// not used: nats-server 2.15.2 checks it on every replica against the last
// id that replica stored, which a restarted replica that caught up from a
// snapshot does not update, so that replica refuses every later message
// while the others store them: TestClusterServerStopped found a replica
// stuck at 24,538 of 300,153 messages.)
//
// On one machine a replicator holds a lock file next to the channel file
// (ReplicatorLockPath: flock, for its whole run), so a second replicator
// of the channel into the same stream stops at once with
// ErrReplicatorRunning.
//
// The replicator checks each acknowledgement in publish order (stored at
// the very sequence expected; a duplicate there is this very message,
// stored by an earlier attempt); at the first failure it stops publishing,
// drops the answers still awaited (a message of the chain that lands
// meanwhile is the one the chain has there), asks the stream leader for
// its last message on the subject, moves its reader right after that
// record (checking that the channel holds the same bytes there) and
// carries on. Starting again after
// a crash is the same re-sync. Since the check is made by the stream's
// leader against the stream itself, the stream holds each record exactly
// once and in order whenever the replicator process, its connection or a
// server of the cluster fails. (What JetStream itself keeps after losing a
// majority of its servers is JetStream's business: see README.md.)
//
// Failures are retried with exponential back-off (MinBackoff to
// MaxBackoff) for as long as the context allows, cut short when a lost
// connection comes back; nothing is dropped or reordered. An
// acknowledgement that has not come StallTimeout (500ms) after the one
// before it is taken for lost (its message went to a leader that stepped
// down): the replicator drops the answers still awaited and re-syncs at
// once instead of waiting AckTimeout (10s). Both log when their
// connection goes away and when it comes back. The replicator is just
// another reader of the channel: the writer is never slowed, and a
// replicator that falls behind catches up from the channel, which holds
// everything until it is full.
//
// # The mirror
//
// Mirror reads the stream with an ordered consumer, checks every message
// against the chain (its position minus its gap must be where the last
// one ended: a lost or repeated record stops the mirror with
// ErrMismatch), writes heartbeats for the gap and then the record, and
// checks that the mirror channel's write position is the record's
// position in the source. Idle markers become heartbeats, so readers of
// the mirror do not time out while the source's writer idles; the end
// marker closes the mirror channel.
//
// A mirror that stops (its context, an error, a crash) leaves its channel
// open and writerless; started again, it resumes it: it reads the channel
// to its end, checks its last record against the stream, takes the
// channel over with mmap.OpenForWrite and domain.Resume (refused while
// another mirror holds it), finds the next message by bisecting the
// stream on positions, and carries on. An idle marker may share its
// position with the record (or end marker) after it: the bisection orders
// the elements of one position idle marker, record, end marker, so it
// finds the mirror's last record itself and not the marker before it.
//
// A mirror killed while it created its channel leaves the channel's lock
// file, which its creator's lock no longer holds, and the channel file as
// far as it got (none, empty, zeros, half a header, or whole): the next
// mirror sees a dead creator (the lock is free), removes both (the channel
// file first) and creates the channel afresh; it waits, retrying, while a
// live creator holds the lock. A kill at any moment thus leaves nothing,
// a channel to create again, or a channel to resume.
//
// See README.md next to this file for running against a JetStream cluster
// and the exact guarantees.
package jetstream
