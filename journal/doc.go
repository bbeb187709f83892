// Package journal is a kekbit journal: an ordered series of channels, its
// segments, in one ports.Volume, that never fills, with readers that
// follow it across segments, named readers that resume where they stopped,
// and retention of old segments.
//
// Segment k is channel id k, a complete kekbit channel with the record
// envelope (CRC32C, sequence number, time) whose header extension names
// the journal (a random 16-byte id) and the segment index: the Rust crate,
// and a plain kekbit.Reader, read each segment on its own. Sequence
// numbers count across the journal. A journal position is
// segment<<32 | offset ([Position]). FORMAT.md in the repository has the
// bytes ("Journal segments").
//
//	vol := mmap.NewVolume("/dev/shm/orders")
//	w, err := journal.OpenWriter(vol, codecs.Raw{}, journal.WithSegmentSize(64<<20))
//	...
//	pos, err := w.Write(payload) // rolls to the next segment when full
//	...
//	w.Close()                    // ends the journal: readers end with ErrClosed
//
//	r, err := journal.OpenReader(vol, journal.WithName(positions.NewMapped(dir), "billing"))
//	for rec := range r.FollowRecords(ctx) {
//		handle(rec.Seq, rec.Payload)
//		r.Commit() // or WithAutoCommit
//	}
//
// # Rolling
//
// When the writer is half way (WithPrepareAt) through segment k, a
// goroutine creates segment k+1 and pretouches its pages (it stops if the
// roll comes first); the channel stays invisible to readers (its lock file
// is there) until the writer rolls, hands it its sequence base, and it
// becomes ready. Only then does the writer seal segment k (its close
// trailer and close mark; the flush, the unmap and retention follow in the
// background). So a reader that meets the close mark of k finds k+1, or,
// if k carries the journal end mark that Close writes, knows that the
// journal ended.
//
// # Opening again
//
// OpenWriter on a journal whose writer closed it goes on in a new segment;
// on one whose writer died, it repairs the last segment's torn tail and
// goes on in it; on one whose writer is alive it fails with ErrJournalLive.
//
// # Named readers
//
// A named reader (WithName) keeps its position in a [Positions], a port
// with adapters in package journal/positions: memory, files through afero
// (written crash-safely) and a mapped word (a commit is one atomic store).
// A stored position carries the journal id: one from another journal is
// refused (ErrOtherJournal).
//
// # Retention
//
// [Retention] keeps at most N segments, B bytes, or segments closed within
// D; the writer applies it after each roll (WithRetention), [Prune] on
// demand. A segment a named reader has not passed stays unless the policy
// says Force; a reader that needs a removed segment gets a *PrunedError
// naming the oldest position left. A named reader that is gone for good
// holds retention back until its position is removed (Positions.Remove).
// Readers and the writer close a segment as soon as they pass it (on
// another goroutine: unmapping a large segment takes milliseconds).
//
// With WithRecycle (a ports.Recycler volume: mmap on Linux) the newest
// segment a retention pass drops is not removed but waits, listed, for the
// writer's next prepare, which renames its file to the next segment's name
// and rewrites its header (FORMAT.md, "Journal segments"): no new file to
// allocate and zero, its pages in memory already. A segment any open file
// or mapping still holds, in any process, is removed instead (a file lease
// tells); Writer.Recycled counts the segments recycled.
//
// # Lag
//
// [Reader.Lag], [LagAt] (a position and a volume, for tools) and [LagOf]
// (what a tool read of each segment) are one computation: the records
// between the position and the writer by sequence numbers, and the bytes
// of data region between.
package journal
