// Package mmap is kekbit's shared-memory backend: each channel is a file
// mapped into the memory of its writer and of every reader, in any process,
// with golang.org/x/sys/unix (Linux, macOS, FreeBSD) or
// golang.org/x/sys/windows. Put the root under /dev/shm for RAM speed, or
// on disk for a journal that outlives the machine.
//
// # Layout
//
// A [Volume] is a folder laid out as the Rust crate lays it out, so the
// crate's own channel folders open unchanged:
//
//	root/
//	  HHHH_HHHH/           high 32 bits of the channel id, lowercase hex
//	    LLLL_LLLL.kekbit   low 32 bits: the channel file
//	    LLLL_LLLL.lock     exists only while the channel is being created
//
// Channel 0xC2 lives at root/0000_0000/0000_00c2.kekbit ([ChannelPath]).
//
// # Other users
//
// A volume trusts no other user with its folder. Below the root it follows
// no symbolic link ([ErrSymlink] names one found there). It refuses a root
// or channel folder owned by another user than the process's or the
// superuser, or writable by its group ([ErrUntrusted], naming the folder,
// its owner and mode), unless made [WithSharedRoot] for a group-shared
// root, and always one writable by every user without the sticky bit. A
// root it makes is 0700. What is at a channel's path and is not a channel
// is refused at once: a FIFO, folder or device ([ErrNotRegular], found
// without blocking), a sparse file whose records run into a hole
// ([ErrHole], on Linux, by SEEK_HOLE: a planted file claiming 4 GiB
// costs its real size; elsewhere such a file is read as far as its
// records go); a
// reader maps only the 1024 + capacity + 32 bytes its header needs.
//
// # The channel-file protocol
//
// Creating, opening, opening for write and removing a channel follow the
// protocol that this backend shares with the file backend
// (adapters/file), so that either can use a folder the other made; its
// steps are written down once, in the documentation of package
// internal/layout. What is this backend's own: [Volume.Create] (and
// [CreateFile] for a path of your own) reserves the new file's blocks with
// the system's call (fallocate on Linux, see Platforms), sized 1024 +
// capacity + 32 by the domain, so that a full disk fails the Create with an
// error wrapping syscall.ENOSPC, never later as a
// SIGBUS on a store; then it maps the file read-write, shared, for init
// and the writer. If any step fails, the channel file and the lock file
// are removed.
//
// # Locks
//
// Both locks belong to an open file, and the kernel drops them when the
// process that holds them dies, even by SIGKILL. On Linux they are open
// file description write locks (fcntl F_OFD_SETLK), which need a file open
// for writing, so that no reader can fake a live writer, and readers probe
// them without locking (F_OFD_GETLK); the writer also takes flock's
// exclusive lock, for older versions. On macOS and FreeBSD they are flock(2)
// locks, on Windows LockFileEx locks on a byte past the channel's end:
//
//   - the writer's: exclusive, on the channel file, taken by Create when it
//     makes the file (or by [Volume.OpenForWrite]) and held until the
//     writer's Storage is closed;
//   - the creator's: exclusive, on the .lock file, held by Create from the
//     moment it makes the lock file until the channel is ready (at the very
//     end the writer's flock, held since the channel file exists, stands in
//     for it while the lock file is removed).
//
// A reader tells at once whether the writer is alive ([Storage.WriterAlive]
// probes the writer's lock on the channel file), across
// processes, and also after the writer crashed. Anyone can tell a creator
// that died in the middle of a Create (its lock file is there, its lock
// free) from one at work: [Volume.RemoveAbandoned] removes what the first
// left, at once, and refuses the second. Readers get
// ports.ErrChannelNotReady while any lock file exists. The file backend
// takes the same flocks on the same files, so each sees the other's
// writers and creators. The Rust crate takes neither: its writers are
// never seen alive.
//
// # Errors
//
// A Volume's errors are *ports.ChannelError: they name the operation, the
// channel id and the file's path once, and wrap the reason (a sentinel of
// ports, the system's error, or both):
//
//	kekbit: open channel 0x8 (live/0000_0000/0000_0008.kekbit): channel not found: no such file or directory
//
// The functions that take a path ([OpenFile], [CreateFile], [OpenForWrite])
// name the path alone.
//
// # Guarantees
//
//   - Readers map the file read-only: a reader needs no write permission
//     and cannot corrupt the channel. [Storage.WriteAt] on a reader's
//     storage returns [ErrReadOnly].
//   - Records are visible to readers in this and other processes as soon as
//     they are published: all share the same pages. Flush (msync) is needed
//     only for durability.
//   - Files shorter than their header says (a crate-sized file, a partial
//     copy) and empty files open; the domain reader reports the truncation.
//   - The Storage methods turn the memory fault (SIGBUS) of a file cut
//     short under a live mapping into an error wrapping [ErrFault]. For the
//     domain's zero-copy path, which reads the mapping directly, Storage
//     implements ports.FaultProne ([Storage.Faulted]) so the domain reader
//     can recover such a fault as a truncated channel. (Windows refuses
//     the cut itself: see Platforms.)
//
// # Platforms
//
// The backend runs on Linux, macOS, FreeBSD and Windows; elsewhere Create
// and Open fail with an error matching errors.ErrUnsupported. The channel
// files are the same bytes on every system. What each system does:
//
//   - Linux: mmap and msync; fallocate reserves the blocks (zeros where
//     the file system cannot); madvise MADV_POPULATE_* pretouches.
//   - macOS and FreeBSD: mmap and msync, as on Linux; the blocks are
//     reserved by fcntl F_PREALLOCATE then ftruncate (macOS) or by
//     posix_fallocate (FreeBSD; zeros where it answers EINVAL or
//     EOPNOTSUPP, as on ZFS); Pretouch touches one word per page. Locks,
//     liveness and the cut file (SIGBUS) behave as on Linux.
//   - Windows: CreateFileMapping and MapViewOfFile map the file;
//     FlushViewOfFile then FlushFileBuffers flush it; FileAllocationInfo
//     and the file's length reserve its blocks (a full disk's error wraps
//     syscall.ENOSPC as well as ERROR_DISK_FULL); the locks are LockFileEx
//     locks, which Windows also drops when a process ends, on one byte
//     far past the file's end, so that they never lock the channel's
//     bytes; Pretouch touches one word per page. The default root
//     (kekbit.DefaultRoot) is under os.TempDir().
//
// Windows forbids two things Linux allows:
//
//   - Cutting a mapped file short: the truncate fails, the mappings keep
//     working, and the cut-file fault cannot happen.
//   - Removing a file that is open: [Volume.Remove] and
//     [Volume.RemoveAbandoned] of a channel that any Storage (a reader's
//     too) still holds fail with a *ports.ChannelError wrapping the
//     system's sharing violation and remove nothing (after trying again
//     for 10 ms, which waits out the protocol's own brief opens); once
//     every Storage is closed they work. The protocol closes its own handles before it
//     removes a file there (see package internal/layout).
package mmap
