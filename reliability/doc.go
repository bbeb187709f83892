// Package reliability holds the tests that show a kekbit channel stays
// trustworthy whatever happens to its writer process or to its file: a
// reader never hands out a broken record, never crashes, never hangs, and
// says with a typed error why a channel ends. It has no code of its own;
// everything is in its _test.go files (Linux only: they re-execute the test
// binary as writer, reader, truncating and creating processes, and SIGKILL
// them).
//
// What is tested:
//
//   - TestWriterKilled: a writer process writes records that carry a
//     sequence number, a random length and an FNV-64a checksum, with
//     heartbeats now and then, and is SIGKILLed at a random moment: before
//     the channel exists, while it is being created (the lock file is
//     left behind: readers get ports.ErrChannelNotReady, a new writer
//     ports.ErrChannelExists) or while it writes. A reader in this process
//     (live, following through the kill, and a fresh one afterwards) and
//     one in another process then read the channel: every record the
//     writer reported published is there, whole, in order, with a good
//     checksum, and the read ends with domain.ErrWriterGone (the writer's
//     flock is gone) or domain.ErrTimeout, never corrupt, never a hang.
//   - TestTornTails: for every byte of the last three records of a
//     written channel and of the word after them, five mutations (flip
//     all bits, zero, set its aligned word to the watermark or to the
//     close mark, truncate the file there), read through the mmap and the
//     memory backends: no panic, the read ends, every record lies inside
//     the file and the capacity, the records before the damage are intact,
//     the read ends with a typed error, and both backends and an
//     independent parser of the format agree record for record.
//   - TestEnvelopeDamagedPages: a closed 2,000-record channel with the
//     record envelope (CRC32C, sequence number, time), written through the
//     mmap backend; every 4 KiB page of its file zeroed, and separately one
//     random bit of it flipped (a fixed seed; KEKBIT_DAMAGE_SEED=n), and
//     one random bit flipped in each of the header page's first 1024 bytes.
//     Read through the mmap and the memory backends: where a byte that
//     something reads was damaged, exactly the records before it come out
//     (payload, position, sequence number, time) and the read ends with
//     ErrCorrupt at the damaged record, or the header is refused with a
//     *HeaderError; damage to bytes nothing reads (216..1023, past the
//     close mark) changes nothing. 0 undetected. TestPlainDamagedPages
//     zeroes the pages of the same channel without the envelope and only
//     logs what the reader made of them.
//   - TestEnvelopeTornTailRepair: an enveloped writer process SIGKILLed at
//     200 random moments (KEKBIT_LONG=1: 1,000), a page of its file's tail
//     zeroed each time; kekbit.Resume keeps exactly the records before the
//     first one the zeroing changed, overwrites everything after them with
//     the watermark, and the channel goes on: more records, Close, and a
//     reader reads them all with consecutive sequence numbers, then closed.
//   - TestTruncatedUnderLiveMapping: another process cuts the channel file
//     short while a reader in this process follows it and a writer (in
//     this process with domain.WithFaultGuard, or unguarded in a third
//     process, which may die of the fault) is still writing: the reader
//     gets domain.ErrTruncated and this process lives.
//   - TestSecondWriterRefused, TestKilledWriterChannelNeverRewritten: a
//     second writer, in this process or another, is refused with
//     ports.ErrChannelExists naming the channel; a SIGKILLed writer's lock
//     is released (WriterAlive turns false) and its channel is never
//     created or written again.
//
// Injected faults (inject_test.go, with internal/faultfs): every operation
// of a create-write-close-reopen-read scenario fails in turn, once and from
// then on, on the file backend (MemMapFs, OsFs) and through a Storage
// wrapper on memory and mmap; every injected error reaches the caller, no
// goroutine, descriptor or mapping leaks, a failed create leaves nothing,
// and a reopen reads exactly the records whose Write succeeded. Full disks
// (diskfull_test.go): real ENOSPC on small tmpfs mounts (blocks and inodes)
// and injected ENOSPC at every step of Create; the error wraps ENOSPC and
// nothing is left, not even the channel's folder.
//
// Regression tests for bugs this package found: Follow and MoveTo touching
// memory a cut unmapped (TestFollowSurvivesCutWhenWriterGone,
// TestMoveToSurvivesCutFile, each reader in a process of its own in case
// it crashes); a refused second writer making a ready channel look not
// ready (TestRefusedWriterDoesNotLockReadersOut); and the bounded damage
// of a cut inside the page of a record (TestReaderMappedBeforeCut).
//
// The default run is short (60 kills, 200 kills of the enveloped writer, a
// few seconds each) so that CI runs it,
// also under -race:
//
//	go test ./reliability/
//	go test -race ./reliability/
//
// The long run kills the writer 500 times:
//
//	KEKBIT_LONG=1 go test -v -run TestWriterKilled ./reliability/
//
// (or go test ./reliability/ -args -long). KEKBIT_KILLS=N sets the number
// of kills directly.
package reliability
