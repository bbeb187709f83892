// Package file is kekbit's plain-file backend: each channel is a file
// reached through an [afero.Fs], read and written with ReadAt and WriteAt
// (pread and pwrite on afero.NewOsFs), never mapped. Use it where mmap is
// not wanted or not available, and with afero.NewMemMapFs in tests.
//
// # Layout
//
// A [Volume] is a folder laid out as the mmap backend and the Rust crate
// lay it out, so the same folder can be used by either backend:
//
//	root/
//	  HHHH_HHHH/           high 32 bits of the channel id, lowercase hex
//	    LLLL_LLLL.kekbit   low 32 bits: the channel file
//	    LLLL_LLLL.lock     exists only while the channel is being created
//
// The paths are the mmap package's too ([ChannelPath], [LockPath]).
//
// # The channel-file protocol
//
// Creating, opening, opening for write and removing a channel follow the
// protocol this backend shares with the mmap backend, so that either can
// use a folder the other made; its steps are written down once, in the
// documentation of package internal/layout. What is this backend's own:
// [Volume.Create] (and [CreateFile] for a path of your own) gives the new
// file its full size by writing zeros, so that its blocks are allocated
// now and a full disk fails the Create (syscall.ENOSPC) leaving nothing
// behind; and it syncs the file (File.Sync, fsync on OsFs) after init,
// before the channel becomes ready. If any step fails, what Create made
// (channel file, lock file) is removed; a lock file or channel file that
// was already there is left alone and gives ports.ErrChannelExists.
//
// [Volume.Open] refuses a channel removed while being opened where the
// file system can tell: on OsFs by device and inode, on MemMapFs by the
// file's data; on other file systems it cannot.
//
// # Locks
//
// The protocol's two locks: the writer's, exclusive, on the channel file,
// held by Create (or [Volume.OpenForWrite]) until the writer's Storage is
// closed; the creator's, exclusive, on the .lock file, held by Create until
// the channel is ready (while the lock file is removed, at the very end,
// the writer's lock stands in for it). They are taken according to the
// file:
//
//   - On afero.NewOsFs, whose files are *os.File: layout.OSFile's locks
//     (open file description locks on Linux, flock(2) elsewhere), exactly as the
//     mmap backend takes them, on the same files. They work across
//     processes and between the two backends, and the kernel drops the
//     locks of a process that dies, even by SIGKILL: [Volume.RemoveAbandoned]
//     removes at once what a dead creator or writer left, and an mmap
//     reader of the file can tell whether this backend's writer is alive.
//   - On any other file system (afero.NewMemMapFs, or a wrapping afero.Fs
//     whose files are not *os.File): a lock table of this process, keyed by
//     the file (MemMapFs's file data; the device and inode of an
//     operating-system file; else the file system's name and the path),
//     with flock's rules. OpenForWrite then still refuses a channel whose
//     writer's Storage is open in this process, and RemoveAbandoned one a
//     goroutine of this process is creating; nothing outside the process
//     sees these locks.
//
// This backend's own readers do not ask the writer's lock: a [Storage] is no
// ports.Liveness (see below).
//
// # Errors
//
// A Volume's errors are *ports.ChannelError: they name the operation, the
// channel id and the file's path once, and wrap the reason (a sentinel of
// ports, the file system's error with its path stripped, or both):
//
//	kekbit: open channel 0x8 (live/0000_0000/0000_0008.kekbit): channel not found: no such file or directory
//
// The functions that take a path ([OpenFile], [CreateFile], [OpenForWrite])
// name the path alone.
//
// # Storage
//
// A [Storage] moves bytes with File.ReadAt and File.WriteAt and words with
// one aligned 8-byte ReadAt or WriteAt, little endian. It does not
// implement ports.Addressable, so the domain writes a record as one WriteAt
// of the payload (padding included), one 8-byte WriteAt of the watermark
// after it, then one 8-byte WriteAt of the length word, and reads a record
// as one 8-byte ReadAt of its length word then one ReadAt of the payload
// into a buffer of the reader's. That is three system calls per Write and
// one per poll of an idle channel on OsFs.
//
// Size is the file's length when the storage was opened. The writer makes
// the file full-size before the channel becomes ready, so a reader's Size
// is the whole channel; a reader does not notice a file cut short later
// until an access fails with ports.ErrOutOfRange. Readers open the file
// read-only: a reader needs no write permission, and [Storage.WriteAt] on
// its storage returns [ErrReadOnly].
//
// # A reader in another process, on OsFs
//
// What a reader following a live writer through its own file descriptor
// can rely on (same machine, local file system, no O_DIRECT):
//
//   - Order. The domain's payload write has returned before the writer
//     starts the write of the length word that publishes it. POSIX says a
//     read begun after a write returned sees that write's bytes, so a
//     reader that has seen a length word and then reads the payload gets
//     the payload. The same holds for the header, written before the lock
//     file is removed.
//   - Word atomicity: by reading twice, not by promise. Neither POSIX
//     (whose atomicity rule for read and write is stated for threads, and
//     which Linux does not honour for reads anyway) nor Linux promises
//     that a pread racing a pwrite does not see a mix of old and new
//     bytes, and it happens: under load, this package's TestFollowLive
//     once read the watermark turning into the length word 42 as 17 (its
//     first byte read before the write, the rest after), a record of the
//     wrong length. So LoadUint64 reads a word until two reads in a row
//     agree (at most 64 reads, then ErrWordUnsteady: something else keeps
//     writing the word): a read that straddled a write differs from the
//     next one. Two
//     reads can only agree on a torn word while the write stays stopped
//     in the middle of its copy (its process descheduled inside the
//     kernel; TestFollowLive once read 0xffffffff11111128 so). As the copy
//     goes from the first byte up, such a word has new low bytes and the
//     old word's high bytes, 0xFF for the watermark and the close mark, so
//     it reads as a word above any max record length, never as a record.
//     The domain's reader, meeting such a word through this backend
//     (Storage.TornWords), reads it again for up to about 100 ms until it
//     changes, and calls it domain.ErrCorrupt only if it does not. The
//     mmap backend, whose words are single atomic loads and stores on
//     shared memory, has no such caveat: use it where this matters.
//   - No durability before Flush. A record is in the kernel's page cache
//     when Write returns, so it survives the writer process dying (even by
//     SIGKILL) and is visible to readers at once; it reaches the disk only
//     by Writer.Flush or Writer.Close (fsync) or the kernel's own
//     writeback. After a power loss or kernel crash, only what was written
//     before the last successful Flush is certain to be there: later pages
//     may be on disk in any combination, such as a length word without its
//     payload.
//   - No liveness for this backend's readers. A reader of this backend
//     cannot tell whether the writer is alive (domain.Reader.WriterAlive
//     returns domain.ErrLivenessUnknown): it relies on heartbeats and the
//     header's timeout. On OsFs the writer does hold the writer's flock
//     (see Locks), so an mmap reader of the same file can tell. Create is
//     exclusive through O_EXCL, and the locks are advisory: nothing stops
//     another program opening the file read-write.
//   - Network file systems (NFS, SMB) and FUSE file systems may not keep
//     the read-after-write rule between processes, above all across
//     machines: a reader there may see a length word before its payload.
//     Nothing is promised for them.
//
// The file is the same page cache the mmap backend maps, so on Linux a
// reader of either backend can follow a writer of the other, with the
// caveats above for the side that uses this backend.
//
// # Other file systems
//
// On afero.NewMemMapFs every access to a file holds that file's mutex, so
// words are atomic, accesses are ordered as the domain needs, and the race
// detector sees them: a writer and readers in goroutines of one process are
// safe. MemMapFs keeps open files working after Remove. Its O_EXCL is a
// check followed by a create; this package serializes its own exclusive
// creations so that Create stays exclusive between goroutines. Its
// WriteAt (afero v1.15.0) copies the rest of the file on every call, so a
// Write costs time in proportion to the channel's size (tens of
// microseconds for a 1 MiB channel): it is for tests, not for speed. For any
// other afero.Fs, the guarantees are those of the file system underneath.
package file
