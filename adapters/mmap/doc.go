// Package mmap is kekbit's shared-memory backend: each channel is a file
// mapped into the memory of its writer and of every reader, in any process,
// with golang.org/x/sys/unix. Put the root under /dev/shm for RAM speed, or
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
// # Creating a channel
//
// [Volume.Create] (and [CreateFile] for a path of your own):
//
//  1. creates the .lock file exclusively: while it exists, [Volume.Open]
//     returns ports.ErrChannelNotReady and another Create
//     ports.ErrChannelExists;
//  2. creates the channel file exclusively (O_EXCL) and takes an exclusive
//     flock on it, held for the writer's whole life;
//  3. reserves the file's blocks with fallocate, sized 1024 + capacity + 32
//     by the domain: a full disk fails here with an error wrapping
//     syscall.ENOSPC, never later as a SIGBUS on a store;
//  4. maps it read-write, shared, and runs init, which writes the header
//     and the first heartbeat;
//  5. removes the .lock file: the channel is ready.
//
// If any step fails, the channel file and the lock file are removed.
//
// # Guarantees
//
//   - Readers map the file read-only: a reader needs no write permission
//     and cannot corrupt the channel. [Storage.WriteAt] on a reader's
//     storage returns [ErrReadOnly].
//   - Records are visible to readers in this and other processes as soon as
//     they are published: all share the same pages. Flush (msync) is needed
//     only for durability.
//   - [Storage.WriterAlive] tells a reader at once whether the writer still
//     holds the channel open, by probing its flock; the kernel drops the
//     lock of a process that dies, even by SIGKILL.
//   - Files shorter than their header says (a crate-sized file, a partial
//     copy) and empty files open; the domain reader reports the truncation.
//   - The Storage methods turn the memory fault (SIGBUS) of a file cut short
//     under a live mapping into an error wrapping [ErrFault]. For the
//     domain's zero-copy path, which reads the mapping directly, Storage
//     implements ports.FaultProne ([Storage.Faulted]) so the domain reader
//     can recover such a fault as a truncated channel.
//
// The backend runs on Linux; elsewhere Create and Open fail with an error
// matching errors.ErrUnsupported.
package mmap
