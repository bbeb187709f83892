package layout

import (
	"fmt"
	"path/filepath"

	"go.uber.org/multierr"

	"github.com/kekbit-go/kekbit/ports"
)

// Renamer is an optional ability of a Files: renaming a file within its
// folder, replacing nothing (fs.ErrExist if the new name exists).
type Renamer interface {
	Rename(from, to string) error
}

// Soler is an optional ability of a File: telling that no other open file
// of it exists, and keeping new ones from being made, for an instant
// (OSFile.TrySole: a file lease on Linux).
type Soler interface {
	TrySole() (release func() error, err error)
}

// OpRecycle is the operation of Recycle, as its errors name it.
const OpRecycle = "recycle"

// Recycle makes channel c, of size bytes, out of the file of channel from
// (in the same folder), instead of a new file: Create's steps with step 3
// replaced by
//
//  3. open from's file read-write; check that it is size bytes; take a
//     file lease (Soler.TrySole), granted only while no other open file of
//     it exists (no reader holds it, nor maps it); take the writer's lock
//     (no writer holds it); check that it still is the file at from's
//     path; rename it to c's name (replacing nothing); give the lease up.
//     A reader that opens from's path meanwhile waits for the lease and
//     then finds no file there.
//
// and no step 4 (the file's blocks are there: its old bytes too, which
// init overwrites as far as it needs). Anything that keeps step 3 from
// going through returns an error matching ports.ErrChannelInUse with from
// as it was; one after the rename removes c's file, as Create's failures
// do: from is gone by then. A crash before the rename leaves from as it
// was and c's lock file of a dead creator (taken over by the next Create);
// after it, c's file with that lock file, an abandoned creation that
// RemoveAbandoned removes.
func Recycle[F File, S ports.Storage](b Backend[F, S], from, c Channel, size int64, init func(S) error) (S, error) {
	st, err := recycle(b, from.Path, c.Path, size, init)
	if err != nil {
		return st, c.Error(OpRecycle, err)
	}
	return st, nil
}

func recycle[F File, S ports.Storage](b Backend[F, S], from, path string, size int64, init func(S) error) (S, error) {
	var none S
	rn, ok := any(b).(Renamer)
	if !ok || filepath.Dir(from) != filepath.Dir(path) {
		return none, fmt.Errorf("%w: it cannot be renamed to the new channel's name", ports.ErrChannelInUse)
	}
	if err := vacant(b, path); err != nil {
		return none, err
	}
	return ready(b, path, init, func() (S, error) {
		f, err := takeFile(b, rn, from, path, size)
		if err != nil {
			return none, err
		}
		st, err := b.NewStorage(f, path, size, true)
		if err != nil {
			return none, multierr.Combine(err, step("closing it", f.Close()), step("removing it", RemoveIfExists(b, path)))
		}
		return st, nil
	})
}

// RecycleOpen is Recycle for a file the caller has open already, its
// writer's lock held, and st, the caller's writable Storage of it (a
// writer that kept its old segment's mapping): no open and no new
// mapping, st itself is returned, its pages mapped already. On an error
// matching ports.ErrChannelInUse st is as it was (the caller closes it and
// removes from); after any other error st is closed.
func RecycleOpen[F File, S ports.Storage](b Backend[F, S], f F, st S, from, c Channel, size int64, init func(S) error) (S, error) {
	var none S
	rn, ok := any(b).(Renamer)
	if !ok || filepath.Dir(from.Path) != filepath.Dir(c.Path) {
		return none, c.Error(OpRecycle, fmt.Errorf("%w: it cannot be renamed to the new channel's name", ports.ErrChannelInUse))
	}
	if err := vacant(b, c.Path); err != nil {
		return none, c.Error(OpRecycle, err)
	}
	st, err := ready(b, c.Path, init, func() (S, error) {
		if err := claim(b, rn, f, from.Path, c.Path, size); err != nil {
			return none, err
		}
		return st, nil
	})
	if err != nil {
		return none, c.Error(OpRecycle, err)
	}
	return st, nil
}

// takeFile is Recycle's step 3: it opens the file at from, makes sure that
// nobody else has it open or holds its writer's lock, and renames it to
// path. Its errors before the rename match ports.ErrChannelInUse.
func takeFile[F File](b Files[F], rn Renamer, from, path string, size int64) (F, error) {
	var none F
	f, err := b.OpenFile(from, true)
	if err != nil {
		return none, fmt.Errorf("%w: opening the old file: %w", ports.ErrChannelInUse, StripPath(err))
	}
	if err := claim(b, rn, f, from, path, size); err != nil {
		f.Close()
		return none, err
	}
	return f, nil
}

// claim is the rest of Recycle's step 3 on f, open read-write: it checks
// f's size, takes the lease (no other open file of it exists) and the
// writer's lock (this open file's, or free), checks that f is still the
// file at from and renames it to path. Its errors before the rename match
// ports.ErrChannelInUse; after it, it removes path again.
func claim[F File](b Files[F], rn Renamer, f F, from, path string, size int64) (err error) {
	inUse := func(why string, err error) error {
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ports.ErrChannelInUse, why, err)
		}
		return fmt.Errorf("%w: %s", ports.ErrChannelInUse, why)
	}
	if fi, err := f.Stat(); err != nil || fi.Size() != size || !fi.Mode().IsRegular() {
		return inUse(fmt.Sprintf("the old file is not a regular file of %d bytes", size), err)
	}
	s, ok := any(f).(Soler)
	if !ok {
		return inUse("no way to tell that nobody else has it open", nil)
	}
	release, err := s.TrySole()
	if err != nil {
		return inUse("another open file of it exists", err)
	}
	renamed := false
	defer func() {
		if rerr := release(); rerr != nil && err == nil {
			// Renamed, and readers of the old name kept waiting: give
			// the new channel up (the lock file is still there).
			err = multierr.Combine(step("giving its lease up", rerr), step("removing it", RemoveIfExists(b, path)))
		} else if err != nil && renamed {
			err = multierr.Append(err, step("removing it", RemoveIfExists(b, path)))
		}
	}()
	if err := tryLock(f); err != nil {
		return inUse("its writer's lock is held", err)
	}
	if linked, err := linkedAt(f, from); err != nil || !linked {
		return inUse("it is no longer the file at its path", err)
	}
	if err := rn.Rename(from, path); err != nil {
		return inUse("renaming it", StripPath(err))
	}
	renamed = true
	return nil
}
