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
//  2. Create the lock file exclusively and take the creator's lock on it:
//     an exclusive lock held until step 7. Where the backend can
//     ([BornLocked]: the operating system's files on Unix), the lock file
//     is born locked: made with no name (O_TMPFILE) or a temporary one,
//     locked, given the creator's mark (the text "kekbit creator: locked
//     from birth" and a newline) and then linked at its name, which fails
//     if it exists. Elsewhere (Windows, Solaris, a file system with no
//     hard links) it is created empty with O_EXCL, then locked. While
//     the lock file exists, Open returns ports.ErrChannelNotReady and
//     another Create ports.ErrChannelExists.
//     (A RemoveAbandoned that found an empty lock file free before this
//     lock was taken has taken it for a dead creator's: then this Create
//     gives up, ports.ErrChannelExists.)
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
// Before step 1, a Create that finds a lock file whose creator's lock
// nobody holds (its creator died, even by SIGKILL, in the middle of its
// Create) removes what that creator left, as RemoveAbandoned does, and
// takes the id over ([ErrCreatorGone]: told by the lock, never by age).
// It removes the channel file only while the lock file is still there and
// held by the take-over: a lock file found free may also be a live
// creator's in step 7, between its close and its removal, and if it is
// gone by the time the channel file is looked at, the channel is ready
// (its writer may even have written it and let it go) and is kept. A free
// lock file that holds the creator's mark was born locked, so its creator
// is gone; an empty one is looked at twice, 10 ms apart: made by O_EXCL
// (by this package where lock files cannot be born locked, by its
// versions before that, or by the Rust crate, which takes no lock) it is
// free for an instant in step 2, between its create and its lock, and
// that creator may have found no channel file just before another Create
// made one ready beside it. (Such a creator stopped for longer than that
// in step 2 is still taken for a dead one; a creator whose lock file is
// born locked never is.)
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
// Every open refuses what is not a channel file before it reads a byte:
// OpenOSFile opens without blocking (O_NONBLOCK, so a FIFO cannot hold it)
// and refuses anything but a regular file (ErrNotRegular); the Storage
// covers only what the header needs ([MapSize]: 1024 + capacity + 32, less
// for a shorter file); and a file with holes inside that is refused if its
// records, read from the start, run into a hole before an end mark
// ([CheckHoles], ErrHole; on Linux, where SEEK_HOLE is used), so that a
// planted sparse file costs a reader no more than its real size.
//
// Below a volume's root nothing is reached through a symbolic link
// ([OSFS]: openat one component at a time with O_NOFOLLOW, on Unix): a
// channel folder, channel file or lock file that is one is refused with
// ErrSymlink naming it, so that a link planted in a shared root cannot make
// a writer create its file, or a reader open one, anywhere else. The root
// and every channel folder are checked as they are opened (fstat of the
// open folder): one owned by another user (than this process's or the
// superuser), or writable by its group, is refused with ErrUntrusted
// naming it, its owner and mode, unless the volume is group-shared
// (OSFS.Shared); one writable by every user without the sticky bit always
// is. A root the protocol makes is 0700 (0775 when shared).
//
// OpenForWrite is Open with the file opened read-write and the writer's
// lock taken after the open: ports.ErrWriterAlive if another open file
// holds it.
//
// # Locks
//
// Two locks, both advisory, both belonging to one open file (flock(2)'s
// semantics, see [Locker]) and so dropped by the kernel when the process
// that holds them dies, even by SIGKILL. [OSFile] takes them with flock on
// Unix but Linux, where they are open file description locks (fcntl
// F_OFD_SETLK) instead: a write lock needs a file open for writing, so a
// reader, who can open the channel read-only only, cannot fake a live
// writer by holding a lock (flock works on a read-only file), and readers
// probe it without taking a lock (F_OFD_GETLK, [Prober]). There a file
// open read-only takes a read lock for TryLock (a remover's: it keeps a
// new writer out, and a live writer keeps it out); the writer takes
// flock's exclusive lock too, where it can, for older versions that probe
// that. A reader's read lock can keep a new writer's lock out, but never
// makes a dead writer look alive: OpenForWrite then says
// ports.ErrChannelNotReady, not ports.ErrWriterAlive.
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
// exists, with ErrCreatorGone for a dead creator's. [Probe] and
// [ListStates] tell the state of a channel id from its files and locks
// alone (live, gone, creating, abandoned-create), for listings.
//
// On Windows the locks are LockFileEx locks on one byte past the file's
// end (flock_windows.go), and, because Windows removes no file that is
// open, the protocol closes its lock file and channel file before it
// removes them (a failed Create, RemoveAbandoned): whoever opens either
// file in between makes the removal fail, so no channel in use is lost.
// A lock file that cannot be opened for a sharing violation (its creator
// deleting it, a remover holding it) counts as a live creator's: readers
// get ports.ErrChannelNotReady and try again.
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
