// Package layout is the channel-file protocol of the file-backed backends
// (adapters/mmap and adapters/file), written once: where channels live,
// how a channel file is made, opened, opened again for writing and
// removed, and which locks say who is at work on it. A backend brings its
// own file system and system calls through [Backend]; the sequence of
// steps, the checks and the errors are all here.
//
// # Where channels live
//
// As the Rust crate lays them out, so that its channel folders open
// unchanged:
//
//	root/
//	  HHHH_HHHH/           high 32 bits of the channel id, lowercase hex
//	    LLLL_LLLL.kekbit   low 32 bits: the channel file
//	    LLLL_LLLL.lock     exists only while the channel is being created
//
// # Creating a channel ([Create])
//
//  1. Refuse a channel file that exists (ports.ErrChannelExists), before
//     the lock file is touched: a lock file, even for a moment, would keep
//     the channel's readers out.
//  2. Create the lock file exclusively (O_EXCL) and take the creator's
//     lock on it: an exclusive lock held until step 7. While the lock file
//     exists, Open returns ports.ErrChannelNotReady and another Create
//     ports.ErrChannelExists. (A RemoveAbandoned that found the lock file
//     free before this lock was taken has taken it for a dead creator's:
//     then this Create gives up, ports.ErrChannelExists.)
//  3. Create the channel file exclusively and take the writer's lock on
//     it: an exclusive lock the writer holds until its Storage is closed.
//  4. Reserve the file's blocks (Backend.Reserve: fallocate, or zeros), so
//     that a full disk fails here and not later.
//  5. Make the writer's Storage of the open file (Backend.NewStorage).
//  6. Run init on it (the domain writes the header and first heartbeat).
//  7. Close the lock file, which releases the creator's lock (the writer's
//     lock stands in for it from here: anyone who asks sees a live writer),
//     then remove it: the channel is ready. The close comes first because
//     it can fail, and nothing may fail once the lock file is gone: a
//     channel file without its lock file is a ready channel.
//
// Any failure removes what the Create made, the channel file first and the
// lock file last. A volume's Create also makes the channel's folder, and
// removes it again if it made it and the Create failed.
//
// # Opening a channel ([Open], [OpenFile], [OpenForWrite])
//
// Open refuses a channel whose lock file exists (ports.ErrChannelNotReady),
// opens the file read-only, checks the lock file again (it is made before
// the channel file and removed after the channel is ready, so a file found
// while no lock file exists afterwards is ready), and checks that the file
// it opened still is the one at the path (ports.ErrChannelNotFound if it was
// removed while being opened). OpenFile opens any channel file by its path
// and ignores lock files: for copies, journals and test vectors.
//
// OpenForWrite is Open with the file opened read-write and the writer's
// lock taken after the open: ports.ErrWriterAlive if another open file
// holds it.
//
// # Locks
//
// Two locks, both advisory, both belonging to one open file (flock(2)'s
// semantics, see [Locker]) and so dropped by the kernel when the process
// that holds them dies, even by SIGKILL:
//
//   - The writer's lock: exclusive, on the channel file, from step 3 of
//     Create (or from OpenForWrite) until the writer's Storage is closed.
//     A reader tells whether the writer is alive by trying a shared lock
//     for an instant ([WriterHolds]); the protocol waits such probes out
//     before it takes a writer's lock for itself.
//   - The creator's lock: exclusive, on the lock file, for the whole of a
//     Create, from the moment the lock file exists until just before it
//     is removed, when the writer's lock (held since step 3) already
//     says that someone is at work.
//
// So anyone can tell a dead creator (its lock file exists, and its lock is
// free) from a live one (the lock is held), at once: [RemoveAbandoned]
// removes what a dead creator or a gone writer left, and refuses a live one
// (ports.ErrChannelNotReady for a creator, ports.ErrWriterAlive for a
// writer). Readers still get ports.ErrChannelNotReady while any lock file
// exists, a dead creator's included.
//
// On Windows the locks are LockFileEx locks on one byte past the file's
// end (flock_windows.go), and, because Windows removes no file that is
// open, the protocol closes its lock file and channel file before it
// removes them (a failed Create, RemoveAbandoned): whoever opens either
// file in between makes the removal fail, so no channel in use is lost.
//
// The Rust crate takes neither lock: on its channels no writer is seen
// alive, and its lock files are taken for a dead creator's.
//
// # Errors
//
// Every error of a channel is a *ports.ChannelError naming the operation,
// the channel id and the channel file's path once ([Channel.Error]); its Err
// is one of ports' sentinels, the file system's error with its path
// stripped ([StripPath], so that errors.Is(err, syscall.ENOSPC) still
// works), or both. A file opened by its path alone has no known id: its
// errors name the path only.
package layout
