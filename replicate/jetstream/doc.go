// Package jetstream carries a kekbit channel beyond its machine through
// NATS JetStream: Replicate follows a local channel and publishes its
// records to a stream; Mirror consumes the stream into a channel on another
// machine with the same header and the same records at the same positions,
// so readers there use the ordinary reader API and the kekbit command.
//
//	err := jetstream.Replicate(ctx, jetstream.ReplicateConfig{
//		Root: "/dev/shm/kekbit", ChannelID: 42, URL: "nats://a:4222,nats://b:4222,nats://c:4222", Replicas: 3,
//	})
//	// on another machine
//	err := jetstream.Mirror(ctx, jetstream.MirrorConfig{
//		Root: "/dev/shm/kekbit", Stream: jetstream.StreamName(42), URL: "nats://a:4222,nats://b:4222,nats://c:4222",
//	})
//
// # The stream
//
// Each channel has a stream of its own (StreamName(id), subject
// Subject(id) by default), which Replicate creates if needed. It holds a
// chain: a header marker (the channel's 128-byte header as payload, its
// fields in headers), then one message per record in channel order (the
// payload as is; headers Kekbit-Channel, Kekbit-Pos and, if heartbeats
// came before the record, Kekbit-Gap), idle markers when the channel's
// writer sends only heartbeats for a while, and an end marker
// (Kekbit-End: closed or full, at the channel's final position). Every
// message has a Nats-Msg-Id derived from the channel id and the position
// (MsgID), so JetStream's duplicate window drops a re-send.
//
// # Exactly once, in order
//
// The replicator publishes asynchronously, up to Window messages waiting
// for their acknowledgements, and every message says where it must land:
// Nats-Expected-Last-Sequence is the stream sequence of the message before
// it in the chain and Nats-Expected-Last-Msg-Id that message's Nats-Msg-Id
// (the header marker, the first, has only the sequence). The stream
// leader stores a message only if the stream's last message is its very
// predecessor, so a message lost on the way (a broken connection, a leader
// change, a timeout) cannot be followed by a later one: everything after
// it is refused. The id matters where the sequence alone would not do:
// two replicators of one channel (two machines sharing it) build chains
// of their own, with idle markers at moments of their own, and a message
// of one could otherwise land after a message of the other that took its
// predecessor's sequence. Ids grow along a chain (a message's position is
// past its predecessor's, or the same for a record after an idle marker),
// so no id appears twice in a stream, whatever the duplicate window.
//
// On one machine a replicator holds a lock file next to the channel file
// (ReplicatorLockPath: flock, for its whole run), so a second replicator
// of the channel into the same stream stops at once with
// ErrReplicatorRunning. The replicator checks each
// acknowledgement in publish order (stored, at the very sequence expected,
// not a duplicate); at the first failure it stops publishing, waits for
// every outstanding answer, asks the stream leader for its last message on
// the subject, moves its reader right after that record (checking that the
// channel holds the same bytes there) and carries on. Starting again after
// a crash is the same re-sync. Since the check is made by the stream's
// leader against the stream itself, the stream holds each record exactly
// once and in order whenever the replicator process, its connection or a
// server of the cluster fails. (What JetStream itself keeps after losing a
// majority of its servers is JetStream's business: see README.md.)
//
// Failures are retried with exponential back-off (MinBackoff to
// MaxBackoff) for as long as the context allows; nothing is dropped or
// reordered. The replicator is just another reader of the channel: the
// writer is never slowed, and a replicator that falls behind catches up
// from the channel, which holds everything until it is full.
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
