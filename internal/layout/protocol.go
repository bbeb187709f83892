package layout

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"time"

	"go.uber.org/multierr"

	"github.com/kekbit-go/kekbit/ports"
)

// File is an open channel file or lock file, as the protocol needs it.
// It may also be a Locker and a Linked.
type File interface {
	Stat() (fs.FileInfo, error)
	Close() error
}

// Locker is an optional ability of a File: advisory locks as flock(2)
// has them. A lock belongs to the open file, not to the process: another
// open file of the same file, in this process or another, conflicts with
// it. Close releases it, and so does the death of the process that holds
// it. A File that is no Locker takes no locks: the protocol then cannot
// tell a live writer or creator from a dead one.
type Locker interface {
	// TryLock takes an exclusive lock without waiting, or turns this open
	// file's shared lock into one. ErrLocked if another open file holds
	// a lock.
	TryLock() error
	// TryRLock takes a shared lock without waiting, or turns this open
	// file's exclusive lock into one. ErrLocked if another open file holds
	// an exclusive lock.
	TryRLock() error
	// Unlock releases this open file's lock, if it holds one.
	Unlock() error
}

// Prober is an optional ability of a Locker that can ask whether another
// open file holds the writer's lock without taking a lock itself, and
// whose writer's lock a reader cannot take (OSFile on Linux: see
// lock_linux.go). Without it, WriterHolds tries a shared lock.
type Prober interface {
	// WriterLocked reports whether another open file holds the writer's
	// (exclusive) lock.
	WriterLocked() (bool, error)
}

// Linked is an optional ability of a File that can tell whether it still
// is the file at a path.
type Linked interface {
	// LinkedAt reports whether path names the open file: false if the
	// file was removed, or removed and replaced, since it was opened.
	LinkedAt(path string) (bool, error)
}

// BornLocked is an optional ability of Files: lock files born locked.
// A lock file made by CreateExclusive is free for an instant, between its
// creation and its creator's lock, when nothing tells it from a dead
// creator's; one made by CreateLocked never is.
type BornLocked[F File] interface {
	// CreateLocked creates the file name, which must not exist (an error
	// matching fs.ErrExist if it does), holding mark, with an exclusive
	// lock held on it (Locker.TryLock) from before it appears at name,
	// and returns it open read-write; an error matching ErrNotBornLocked
	// where it cannot (the protocol then uses CreateExclusive).
	CreateLocked(name string, mark []byte) (F, error)
}

// ErrNotBornLocked is BornLocked.CreateLocked's error where a lock file
// cannot be born locked (the system, the file system, or a file system
// that makes no hard links): it matches errors.ErrUnsupported, and left
// nothing behind. Other errors that match errors.ErrUnsupported (an
// EOPNOTSUPP from the lock, say) are failures, not this.
var ErrNotBornLocked = fmt.Errorf("kekbit: lock files cannot be born locked here (%w)", errors.ErrUnsupported)

// Files is a backend's file system as the protocol needs it: an FS, and
// the channel files and lock files it opens, of type F.
type Files[F File] interface {
	FS
	// CreateExclusive creates the file name, which must not exist (an error
	// matching fs.ErrExist if it does), with FileMode, and opens it
	// read-write.
	CreateExclusive(name string) (F, error)
	// OpenFile opens the existing file name, read-write if write, else
	// read-only.
	OpenFile(name string, write bool) (F, error)
}

// Backend is a backend's half of the protocol: its Files, and what it does
// with an open channel file to make a channel of it.
type Backend[F File, S ports.Storage] interface {
	Files[F]
	// Reserve gives the new, empty file f a length of size bytes, zero, and
	// allocates its blocks, so that a full disk fails here.
	Reserve(f F, size int64) error
	// NewStorage returns the Storage of the first size bytes of f, which
	// it owns from then on; writable says whether f is open read-write,
	// for a writer. On error f stays the caller's. Its errors need not
	// name the path: the protocol does.
	NewStorage(f F, path string, size int64, writable bool) (S, error)
}

// takeOverWait is how long a Create's take-over waits before it looks
// again at a lock file it found free (see takeOver).
const takeOverWait = 10 * time.Millisecond

// sleep is time.Sleep, counted by the tests.
var sleep = time.Sleep

// probeWait is how long the protocol waits for a lock that may be held by
// a reader's probe of the writer's lock (WriterHolds), which lasts an
// instant; a lock still held after it is a writer's.
const probeWait = 10 * time.Millisecond

// Create makes channel c, of size bytes, zero-filled and reserved, runs
// init on its writer's Storage while the lock file keeps readers out, and
// returns that Storage, still open, with the writer's lock held: the
// protocol's steps 1 to 7 (see the package documentation). For a volume's
// channel it makes the channel's folder first and, if the Create fails,
// removes it again if it made it and it is empty; a failed Create of
// another channel may remove the folder between the two, and Create then
// tries again, three times at most. Its error is init's, or says why,
// wrapping ports.ErrChannelExists if the channel exists or is being
// created, ports.ErrOutOfRange if size is not positive.
func Create[F File, S ports.Storage](b Backend[F, S], c Channel, size int64, init func(S) error) (S, error) {
	if c.ByPath {
		st, err := create(b, c.Path, size, init)
		if err != nil {
			return st, c.Error(OpCreate, err)
		}
		return st, nil
	}
	dir := filepath.Dir(c.Path)
	for try := 1; ; try++ {
		made, err := mkdir(b, dir)
		if err != nil {
			var none S
			return none, c.Error(OpCreate, step("making its folder", err))
		}
		st, err := create(b, c.Path, size, init)
		if err == nil {
			return st, nil
		}
		if made {
			b.RemoveEmptyDir(dir)
		}
		if try == 3 || !errors.Is(err, fs.ErrNotExist) {
			return st, c.Error(OpCreate, err)
		}
	}
}

// create is Create's steps 1 to 7 for the channel file at path, whose
// folder exists.
func create[F File, S ports.Storage](b Backend[F, S], path string, size int64, init func(S) error) (S, error) {
	var none S
	if size <= 0 {
		return none, fmt.Errorf("size %d: %w", size, ports.ErrOutOfRange)
	}
	if err := vacant(b, path); err != nil {
		return none, err
	}
	return ready(b, path, init, func() (S, error) {
		f, err := b.CreateExclusive(path)
		if errors.Is(err, fs.ErrExist) {
			return none, ports.ErrChannelExists
		}
		if err != nil {
			return none, StripPath(err)
		}
		st, err := newWriter(b, f, path, size)
		if err != nil {
			return none, multierr.Combine(err, step("closing it", f.Close()), step("removing it", RemoveIfExists(b, path)))
		}
		return st, nil
	})
}

// vacant is Create's step 1: it takes over from a dead creator of path
// and refuses a channel file that exists.
func vacant[F File](b Files[F], path string) error {
	if err := takeOver(b, path); err != nil {
		return err
	}
	if _, err := b.Stat(path); err == nil {
		return ports.ErrChannelExists
	} else if !errors.Is(err, fs.ErrNotExist) {
		return step("looking for it", err)
	}
	return nil
}

// ready is Create's steps 2, 6 and 7 around mk, steps 3 to 5: mk makes
// the channel file at path and its writer's Storage, leaving no file at
// path if it fails.
func ready[F File, S ports.Storage](b Backend[F, S], path string, init func(S) error, mk func() (S, error)) (_ S, err error) {
	var none S
	lockPath := LockPath(path)
	lock, err := makeLockFile(b, lockPath)
	if err != nil {
		return none, err
	}
	lockOpen := true
	defer func() {
		// The lock file goes last, and the creator's lock with it.
		if err != nil {
			if lockOpen && closeToRemove {
				lockOpen = false
				err = multierr.Append(err, step("closing its lock file", lock.Close()))
			}
			err = multierr.Append(err, step("removing its lock file", RemoveIfExists(b, lockPath)))
			if lockOpen {
				err = multierr.Append(err, step("closing its lock file", lock.Close()))
			}
		}
	}()
	st, err := mk()
	if err != nil {
		return none, err
	}
	fail := func(err error) (S, error) {
		return none, multierr.Combine(err, step("closing it", st.Close()), step("removing it", RemoveIfExists(b, path)))
	}
	if err := init(st); err != nil {
		return fail(err)
	}
	// Closing the lock file releases the creator's lock; the writer's,
	// held since the channel file was made, stands in for it until the
	// lock file is gone. It comes before the removal because it can fail,
	// and once the lock file is gone nothing may: a channel file without
	// its lock file is a ready channel.
	lockOpen = false
	if err := lock.Close(); err != nil {
		return fail(step("closing its lock file", err))
	}
	// The lock file may be gone already if someone removed the channel
	// meanwhile; the writer then holds a removed file, as after Remove.
	if err := RemoveIfExists(b, lockPath); err != nil {
		return fail(step("making it ready: removing its lock file", err))
	}
	return st, nil
}

// ClearDeadCreator removes what a creator of channel c that died before
// the channel was ready left (its lock file, whose lock nobody holds, and
// the channel file as far as it got), as Create does before it creates
// the channel again, and reports whether it removed anything. A ready
// channel, a lock file that is gone meanwhile, or nothing at all: false
// and nil. A creator at work (its lock held, or its channel file's writer's
// lock: between its steps 6 and 7): an error wrapping
// ports.ErrChannelNotReady.
func ClearDeadCreator[F File](b Files[F], c Channel) (bool, error) {
	removed, err := clearDeadCreator(b, c.Path)
	if err != nil {
		return false, c.Error(OpClearDead, err)
	}
	return removed, nil
}

// errCreatorAtWork is clearDeadCreator's error for a creator at work.
var errCreatorAtWork = fmt.Errorf("%w: its creator is at work", ports.ErrChannelNotReady)

// clearDeadCreator is ClearDeadCreator for the channel file at path.
//
// A lock file made by CreateExclusive is free for an instant after it was
// made (O_EXCL), before its creator takes its lock (step 2): so a free
// lock on an empty lock file is looked at twice, takeOverWait apart.
// Taken at once, such a lock file, made by a Create that found no channel
// an instant before another finished creating one, led the take-over to
// remove that other's ready channel. A lock file that holds creatorMark
// was born locked (BornLocked): free, its creator is gone, and one look
// is enough.
func clearDeadCreator[F File](b Files[F], path string) (bool, error) {
	lockPath := LockPath(path)
	for look := range 2 {
		switch err := creatorAlive(b, lockPath); {
		case errors.Is(err, fs.ErrNotExist):
			return false, nil // no creator: a ready channel, or none
		case err == nil:
			return false, errCreatorAtWork
		case !errors.Is(err, ErrCreatorGone):
			return false, step("checking its lock file", err)
		}
		if look == 1 || markedAtBirth(b, lockPath) {
			break
		}
		sleep(takeOverWait)
	}
	switch err := removeAbandoned(b, path, true); {
	case err == nil:
		return true, nil
	case errors.Is(err, ports.ErrChannelNotFound), errors.Is(err, errChanged):
		return false, nil // gone meanwhile, or ready: its creator finished
	case errors.Is(err, ports.ErrChannelNotReady), errors.Is(err, ports.ErrWriterAlive):
		return false, fmt.Errorf("%w (%w)", errCreatorAtWork, err)
	default:
		return false, step("taking over from its dead creator", err)
	}
}

// takeOver is Create's take-over: clearDeadCreator, where a creator at
// work is no error (Create's steps then say that the channel exists).
func takeOver[F File](b Files[F], path string) error {
	if _, err := clearDeadCreator(b, path); err != nil && !errors.Is(err, ports.ErrChannelNotReady) {
		return err
	}
	return nil
}

// creatorMark is what a lock file born locked (BornLocked) holds, and
// what tells it from one that may be a live creator's before its lock:
// those of CreateExclusive, of this package before BornLocked, and of the
// Rust crate (which takes no lock) are empty.
var creatorMark = []byte("kekbit creator: locked from birth\n")

// markedAtBirth reports whether the lock file at lockPath holds anything:
// creatorMark, written before it had its name (BornLocked). Lock files
// made otherwise are empty.
func markedAtBirth[F File](b Files[F], lockPath string) bool {
	fi, err := b.Stat(lockPath)
	return err == nil && fi.Size() > 0
}

// makeLockFile is Create's step 2: it creates the lock file at lockPath
// exclusively and takes the creator's lock on it; born locked where the
// backend can (BornLocked).
func makeLockFile[F File](b Files[F], lockPath string) (F, error) {
	bl, born := any(b).(BornLocked[F])
	var lock F
	var err error
	var notBorn error // why it could not be born locked
	if born {
		if lock, err = bl.CreateLocked(lockPath, creatorMark); errors.Is(err, ErrNotBornLocked) {
			born = false // not on this file system
			if err != ErrNotBornLocked {
				notBorn = err // a cause found in the attempt, worth telling
			}
		}
	}
	if !born {
		if lock, err = b.CreateExclusive(lockPath); err != nil && notBorn != nil {
			err = fmt.Errorf("%w (made by O_EXCL then: %v)", StripPath(err), notBorn)
		}
	}
	if errors.Is(err, fs.ErrExist) {
		return lock, fmt.Errorf("%w: it is being created (its lock file exists)", ports.ErrChannelExists)
	}
	if err != nil {
		return lock, step("creating its lock file", err)
	}
	if born {
		return lock, nil // no instant without its lock: nobody took it over
	}
	// Between the create and the lock, a RemoveAbandoned may find the
	// lock file free and take it for a dead creator's: then it holds the
	// lock, or has removed the file already, and the file is no longer
	// ours to remove.
	err = lockWaiting(lock) // a reader's probe (notReady) may hold a lock for an instant
	linked := true
	if err == nil {
		linked, err = linkedAt(lock, lockPath)
	}
	switch {
	case errors.Is(err, ErrLocked) || err == nil && !linked:
		lock.Close()
		return lock, fmt.Errorf("%w: its lock file was taken for a dead creator's while being made", ports.ErrChannelExists)
	case err != nil:
		return lock, multierr.Combine(step("locking its lock file", err), lock.Close(), step("removing its lock file", RemoveIfExists(b, lockPath)))
	}
	return lock, nil
}

// newWriter is Create's steps 3 to 5 on the new channel file f: it takes
// the writer's lock, reserves the file's blocks and makes the Storage.
func newWriter[F File, S ports.Storage](b Backend[F, S], f F, path string, size int64) (S, error) {
	var none S
	// The file is new: the only other holder of a lock on it can be a
	// reader that found it by its path, probing the writer's lock.
	if err := lockWaiting(f); errors.Is(err, ErrLocked) {
		return none, fmt.Errorf("%w: its file is locked by another writer", ports.ErrChannelExists)
	} else if err != nil {
		return none, step("taking the writer's lock", err)
	}
	if err := b.Reserve(f, size); err != nil {
		return none, step(fmt.Sprintf("reserving %d bytes", size), err)
	}
	return b.NewStorage(f, path, size, true)
}

// Open opens channel c for reading: it refuses a channel whose lock file
// exists (ports.ErrChannelNotReady), a missing one and one removed while
// being opened (ports.ErrChannelNotFound).
func Open[F File, S ports.Storage](b Backend[F, S], c Channel) (S, error) {
	st, err := open(b, c.Path, true, false)
	if err != nil {
		return st, c.Error(OpOpen, err)
	}
	return st, nil
}

// OpenFile opens the channel file at path for reading, whatever its name
// and folder, ignoring lock files. A missing file gives
// ports.ErrChannelNotFound.
func OpenFile[F File, S ports.Storage](b Backend[F, S], path string) (S, error) {
	st, err := open(b, path, false, false)
	if err != nil {
		return st, FileChannel(path).Error(OpOpen, err)
	}
	return st, nil
}

// OpenForWrite opens channel c read-write, for a new writer to carry it on,
// and takes the writer's lock, which the Storage holds until it is closed.
// It refuses what Open refuses, and a channel whose writer's lock another
// open file holds (ports.ErrWriterAlive). A creator holds the writer's lock
// from the moment its file exists and keeps the lock file until the
// channel is ready: so once the lock is ours, no lock file means that no
// creator is at work and no writer is alive.
func OpenForWrite[F File, S ports.Storage](b Backend[F, S], c Channel) (S, error) {
	st, err := open(b, c.Path, true, true)
	if err != nil {
		return st, c.Error(OpOpenForWrite, err)
	}
	return st, nil
}

// OpenToJoin opens channel c read-write for one more writer of a
// multi-writer channel: as OpenForWrite, but it takes no lock (the writer
// takes its slot's lock on one byte, LockByte). It refuses what Open
// refuses.
func OpenToJoin[F File, S ports.Storage](b Backend[F, S], c Channel) (S, error) {
	st, err := openMode(b, c.Path, true, true, false)
	if err != nil {
		return st, c.Error(OpOpenForWrite, err)
	}
	return st, nil
}

// open opens the channel file at path, read-write with the writer's lock
// if write. With checkLock it refuses a channel whose lock file exists,
// before and after opening the file, and one removed while being opened.
func open[F File, S ports.Storage](b Backend[F, S], path string, checkLock, write bool) (S, error) {
	return openMode(b, path, checkLock, write, write)
}

// openMode is open, taking the writer's lock only if lock.
func openMode[F File, S ports.Storage](b Backend[F, S], path string, checkLock, write, lock bool) (S, error) {
	var none S
	if checkLock {
		if err := notReady(b, path); err != nil {
			return none, err
		}
	}
	f, err := b.OpenFile(path, write)
	if errors.Is(err, fs.ErrNotExist) {
		return none, fmt.Errorf("%w: %w", ports.ErrChannelNotFound, StripPath(err))
	}
	if err != nil {
		return none, StripPath(err)
	}
	st, err := opened(b, f, path, checkLock, write, lock)
	if err != nil {
		return none, multierr.Append(err, step("closing it", f.Close()))
	}
	return st, nil
}

// opened is open once the file is open.
func opened[F File, S ports.Storage](b Backend[F, S], f F, path string, checkLock, write, lock bool) (S, error) {
	var none S
	if lock {
		if err := lockWaiting(f); errors.Is(err, ErrLocked) {
			if p, ok := any(f).(Prober); ok {
				if held, err := p.WriterLocked(); err == nil && !held {
					return none, fmt.Errorf("%w: no writer holds it, but another open file holds a read lock on it that keeps the writer's lock out", ports.ErrChannelNotReady)
				}
			}
			return none, ports.ErrWriterAlive
		} else if err != nil {
			return none, step("taking the writer's lock", err)
		}
	}
	if checkLock {
		if err := notReady(b, path); err != nil {
			return none, err
		}
		if linked, err := linkedAt(f, path); err != nil {
			return none, step("checking that it is still there", err)
		} else if !linked {
			return none, fmt.Errorf("%w: it was removed while being opened", ports.ErrChannelNotFound)
		}
	}
	fi, err := f.Stat()
	if err != nil {
		return none, StripPath(err)
	}
	if !fi.Mode().IsRegular() {
		return none, fmt.Errorf("%w (%v)", ErrNotRegular, fi.Mode().Type())
	}
	size, err := MapSize(f, fi.Size())
	if err != nil {
		return none, err
	}
	if err := CheckHoles(f, size); err != nil {
		return none, err
	}
	return b.NewStorage(f, path, size, write)
}

// errChanged says that a file RemoveAbandoned locked is no longer the one
// at its path: someone removed or replaced the channel meanwhile.
var errChanged = errors.New("kekbit: the channel changed while being checked")

// RemoveAbandoned removes channel id under root if nobody is at work on
// it: it takes the writer's lock on the channel file (ports.ErrWriterAlive
// if another open file holds it, after waiting out a reader's probe) and
// the creator's lock on the lock file, if there is one
// (ports.ErrChannelNotReady if a live creator holds it), then removes the
// channel file and the lock file. A creator that died, even in the middle
// of its Create, holds no lock: what it left is removed at once. With
// neither file, it returns ports.ErrChannelNotFound.
func RemoveAbandoned[F File](b Files[F], root string, id uint64) error {
	return RemoveAbandonedChannel(b, VolumeChannel(root, id))
}

// RemoveAbandonedChannel is RemoveAbandoned for channel c: a volume's, or
// a channel file of its own at a path (FileChannel), with its lock file
// next to it.
func RemoveAbandonedChannel[F File](b Files[F], c Channel) error {
	var err error
	for range 3 {
		if err = removeAbandoned(b, c.Path, false); !errors.Is(err, errChanged) {
			break
		}
	}
	if errors.Is(err, errChanged) {
		err = fmt.Errorf("%w: %w", ports.ErrChannelNotReady, err)
	}
	if err != nil {
		return c.Error(OpRemoveAbandoned, err)
	}
	return nil
}

// removeAbandoned is one try of RemoveAbandoned for the channel file at
// path. It returns errChanged if a file it locked was removed or replaced
// meanwhile, for RemoveAbandoned to try again.
//
// With deadCreator (Create's take-over) it removes only what a creator
// that died left: the lock file must still be there, held by this call
// while the channel file is removed. A creator that found its lock file
// free an instant ago may have been a live one between closing its lock
// file and removing it (Create's step 6 to 7): the lock file is then gone,
// the channel is ready, and its writer may even have written it and let it
// go already, which leaves its lock free too. Such a channel is no dead
// creator's and is kept (errChanged).
func removeAbandoned[F File](b Files[F], path string, deadCreator bool) error {
	file, haveFile, err := openHeld(b, path)
	if err != nil {
		return err
	}
	fileOpen := haveFile
	defer func() {
		if fileOpen {
			file.Close()
		}
	}()
	writerAlive := false
	if haveFile {
		switch err := lockWaiting(file); {
		case errors.Is(err, ErrLocked):
			writerAlive = true // unless the creator is at work: see below
		case err != nil:
			return step("taking the writer's lock", err)
		}
	}
	lockPath := LockPath(path)
	lock, haveLock, err := openHeld(b, lockPath)
	if err != nil {
		return step("opening its lock file", err)
	}
	lockOpen := haveLock
	defer func() {
		if lockOpen {
			lock.Close()
		}
	}()
	if deadCreator && !haveLock {
		return errChanged // its creator finished: a ready channel
	}
	if haveLock {
		switch err := lockWaiting(lock); { // waiting out a reader's probe (notReady)
		case errors.Is(err, ErrLocked):
			return fmt.Errorf("%w: its creator is at work", ports.ErrChannelNotReady)
		case err != nil:
			return step("taking its creator's lock", err)
		}
	}
	switch {
	case writerAlive:
		return ports.ErrWriterAlive
	case !haveFile && !haveLock:
		return ports.ErrChannelNotFound
	}
	if err := stillThere(haveFile, file, path); err != nil {
		return err
	}
	if err := stillThere(haveLock, lock, lockPath); err != nil {
		return err
	}
	if closeToRemove {
		// This system removes no file that is open, through our own
		// handles included: let go of both locks first. Whoever opens
		// either file meanwhile makes its removal fail (the system's
		// sharing violation) instead of losing a channel in use.
		fileOpen, lockOpen = false, false
		if haveFile {
			file.Close()
		}
		if haveLock {
			lock.Close()
		}
	}
	// The channel file first, the lock file last, as a failed Create
	// leaves them: a channel file without its lock file would be ready.
	if haveFile {
		if err := RemoveIfExists(b, path); err != nil {
			return step("removing it", err)
		}
	}
	if haveLock {
		if err := RemoveIfExists(b, lockPath); err != nil {
			return step("removing its lock file", err)
		}
	}
	return nil
}

// stillThere returns errChanged if f, which RemoveAbandoned holds if have,
// is no longer the file at path.
func stillThere(have bool, f File, path string) error {
	if !have {
		return nil
	}
	linked, err := linkedAt(f, path)
	if err != nil {
		return step("checking that it is still there", err)
	}
	if !linked {
		return errChanged
	}
	return nil
}

// openHeld opens the file at path read-only, to take a lock on it, and
// reports whether it exists.
func openHeld[F File](b Files[F], path string) (F, bool, error) {
	f, err := b.OpenFile(path, false)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return f, false, nil
	case err != nil:
		return f, false, StripPath(err)
	}
	return f, true, nil
}

// WriterHolds reports whether another open file holds an exclusive lock on
// l's file: it asks a Prober, or else takes a shared lock and, if it gets
// it, releases it at once.
// This is how a reader tells whether the channel's writer is alive; the
// protocol waits such probes out before it takes the writer's lock.
func WriterHolds(l Locker) (bool, error) {
	if p, ok := l.(Prober); ok {
		return p.WriterLocked()
	}
	switch err := l.TryRLock(); {
	case errors.Is(err, ErrLocked):
		return true, nil
	case err != nil:
		return false, err
	}
	return false, l.Unlock()
}

// tryLock takes an exclusive lock on f if it is a Locker.
func tryLock(f File) error {
	if l, ok := f.(Locker); ok {
		return l.TryLock()
	}
	return nil
}

// lockWaiting is tryLock that waits out, for probeWait, a lock that may be
// a reader's probe.
func lockWaiting(f File) error {
	err := tryLock(f)
	for deadline := time.Now().Add(probeWait); errors.Is(err, ErrLocked) && time.Now().Before(deadline); {
		time.Sleep(100 * time.Microsecond)
		err = tryLock(f)
	}
	return err
}

// linkedAt reports whether f is still the file at path, if f can tell;
// true if it cannot.
func linkedAt(f File, path string) (bool, error) {
	if l, ok := f.(Linked); ok {
		return l.LinkedAt(path)
	}
	return true, nil
}

// WriteZeros writes size zero bytes to w from offset 0, a MiB at a time at
// most: a Reserve for a file system that cannot allocate blocks otherwise.
func WriteZeros(w io.WriterAt, size int64) error {
	zeros := make([]byte, min(size, 1<<20))
	for off := int64(0); off < size; off += int64(len(zeros)) {
		if _, err := w.WriteAt(zeros[:min(int64(len(zeros)), size-off)], off); err != nil {
			return err
		}
	}
	return nil
}
