// Package positions holds the adapters of journal.Positions, where named
// journal readers keep their positions:
//
//   - Memory: a map, for tests and readers in one process;
//   - Files: one small file per reader through an afero.Fs, replaced
//     whole at each Store (write a temporary file, fsync, rename), so a
//     crash leaves the old position or the new one, never a mix;
//   - Mapped: one mapped file per reader (Linux), whose position is one
//     64-bit word: Store is a single atomic store, nanoseconds, visible to
//     other processes at once; Flush (msync) makes it durable against
//     power loss. A reader holds its file's lock while open, so a second
//     reader of the same name is refused (journal.ErrReaderBusy), across
//     processes.
//
// Names are 1 to 100 bytes of letters, digits, '.', '_' and '-', not
// starting with '.'.
//
// The record of a position (Files; the first 32 bytes of a Mapped file),
// little endian:
//
//	0   magic "KEKBPOS1"   u64
//	8   journal id         16 bytes
//	24  position           u64 (segment<<32 | offset)
//	32  CRC32C of 0..31    u32 (Files only)
//	36  zero               u32 (Files only)
package positions
