package layout

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kekbit-go/kekbit/ports"
)

// ErrCreatorGone says that a channel's creator died before the channel was
// ready: its lock file is there and nobody holds the creator's lock on it.
// Open returns it with ports.ErrChannelNotReady; RemoveAbandoned removes
// what the creator left, and Create takes the id over.
var ErrCreatorGone = errors.New("kekbit: the channel's creator died before it was ready")

// State is what is at work on a channel, as its files and locks tell
// (Probe), or as a reader of it tells further (Closed, Full, Abandoned,
// Unknown: see package kekbit's ListChannels).
type State int

// The states of a channel.
const (
	StateNone            State = iota // neither a channel file nor a lock file
	StateLive                         // ready, and a writer holds the writer's lock
	StateGone                         // ready, and no writer holds the writer's lock: closed, full or abandoned
	StateClosed                       // ready, no writer, and closed by its writer
	StateFull                         // ready, no writer, and full
	StateAbandoned                    // ready, no writer, neither closed nor full: its writer died or released it
	StateUnknown                      // ready, neither closed nor full, and its writer takes no lock (a crate channel): alive or not, nobody can tell
	StateCreating                     // being created: a creator holds the lock file's lock
	StateAbandonedCreate              // its creator died before it was ready (ErrCreatorGone)
	StateInvalid                      // not a channel: the error says why
)

// String returns the state as ls shows it: "live", "gone", "closed",
// "full", "abandoned", "unknown", "creating", "abandoned-create",
// "invalid", "none".
func (s State) String() string {
	switch s {
	case StateNone:
		return "none"
	case StateLive:
		return "live"
	case StateGone:
		return "gone"
	case StateClosed:
		return "closed"
	case StateFull:
		return "full"
	case StateAbandoned:
		return "abandoned"
	case StateUnknown:
		return "unknown"
	case StateCreating:
		return "creating"
	case StateAbandonedCreate:
		return "abandoned-create"
	case StateInvalid:
		return "invalid"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Entry is one channel id of a root and its state.
type Entry struct {
	ID    uint64
	Path  string // its channel file
	State State
	Err   error // why it is StateInvalid, or why its state could not be told
}

// Probe tells the state of the channel file at path from its files and
// locks: StateCreating or StateAbandonedCreate while its lock file exists
// (by the creator's lock, not by age), else StateLive or StateGone by the
// writer's lock, StateNone if neither file exists, StateInvalid (with the
// error) if what is there cannot be opened as a channel file.
func Probe[F File](b Files[F], path string) (State, error) {
	switch err := creatorAlive(b, LockPath(path)); {
	case err == nil:
		return StateCreating, nil
	case errors.Is(err, ErrCreatorGone):
		return StateAbandonedCreate, nil
	case !errors.Is(err, fs.ErrNotExist):
		return StateInvalid, step("checking its lock file", err)
	}
	f, err := b.OpenFile(path, false)
	if errors.Is(err, fs.ErrNotExist) {
		return StateNone, nil
	}
	if err != nil {
		return StateInvalid, StripPath(err)
	}
	defer f.Close()
	l, ok := any(f).(Locker)
	if !ok {
		return StateGone, nil
	}
	held, err := WriterHolds(l)
	switch {
	case err != nil:
		return StateInvalid, step("probing the writer's lock", err)
	case held:
		return StateLive, nil
	}
	return StateGone, nil
}

// creatorAlive returns nil if the lock file at lockPath exists and its
// creator's lock is held (or, on Windows, another open file keeps it from
// being opened: its creator removing it, say), ErrCreatorGone if it exists and the lock is free
// (or the file takes no locks: the Rust crate's), an error matching
// fs.ErrNotExist if there is no lock file.
func creatorAlive[F File](b Files[F], lockPath string) error {
	lock, err := b.OpenFile(lockPath, false)
	if lockFileBusy(err) {
		return nil // someone is at work on it this instant: as a live creator
	}
	if err != nil {
		return err
	}
	defer lock.Close()
	l, ok := any(lock).(Locker)
	if !ok {
		return ErrCreatorGone
	}
	held, err := WriterHolds(l)
	if err != nil {
		return err
	}
	if !held {
		return ErrCreatorGone
	}
	return nil
}

// found is a channel id that List found: its channel file, its lock file,
// or both.
type found struct {
	id         uint64
	file, lock bool
	irregular  bool // the channel file or lock file is not a regular file
}

// scan returns the ids under root that have a channel file or a lock file
// (anything but a folder by that name), in increasing order. A root that
// does not exist holds none.
func scan(fsys FS, root string) ([]found, error) {
	var all []found
	folders, err := fsys.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return all, nil
	}
	if err != nil {
		return nil, listError(root, err)
	}
	for _, folder := range folders {
		hi, ok := parseHalf(folder.Name())
		if !ok || !folder.IsDir() {
			continue
		}
		files, err := fsys.ReadDir(filepath.Join(root, folder.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, listError(root, err)
		}
		byLow := make(map[uint32]*found)
		for _, f := range files {
			if f.IsDir() {
				continue
			}
			base, isLock := strings.CutSuffix(f.Name(), LockExt)
			if !isLock {
				var isChannel bool
				if base, isChannel = strings.CutSuffix(f.Name(), ChannelExt); !isChannel {
					continue
				}
			}
			lo, ok := parseHalf(base)
			if !ok {
				continue
			}
			e := byLow[lo]
			if e == nil {
				e = &found{id: uint64(hi)<<32 | uint64(lo)}
				byLow[lo] = e
			}
			if isLock {
				e.lock = true
			} else {
				e.file = true
			}
			e.irregular = e.irregular || !f.Type().IsRegular()
		}
		for _, e := range byLow {
			all = append(all, *e)
		}
	}
	slices.SortFunc(all, func(a, b found) int {
		switch {
		case a.id < b.id:
			return -1
		case a.id > b.id:
			return 1
		}
		return 0
	})
	return all, nil
}

// ListStates returns every channel id under root that has a channel file
// or a lock file, in increasing order, with its state (Probe). A root that
// does not exist holds no channels.
func ListStates[F File](b Files[F], root string) ([]Entry, error) {
	all, err := scan(b, root)
	if err != nil {
		return nil, err
	}
	entries := make([]Entry, 0, len(all))
	for _, f := range all {
		e := Entry{ID: f.id, Path: ChannelPath(root, f.id)}
		e.State, e.Err = Probe(b, e.Path)
		if e.State == StateNone {
			continue // removed meanwhile
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// notReady returns ports.ErrChannelNotReady while the lock file of the
// channel file at path exists, with ErrCreatorGone if its creator died;
// nil when there is no lock file.
func notReady[F File](b Files[F], path string) error {
	switch err := creatorAlive(b, LockPath(path)); {
	case err == nil:
		return fmt.Errorf("%w: its lock file exists: its creator is at work", ports.ErrChannelNotReady)
	case errors.Is(err, ErrCreatorGone):
		return fmt.Errorf("%w: its lock file exists: %w", ports.ErrChannelNotReady, err)
	case errors.Is(err, fs.ErrNotExist):
		return nil
	default:
		return step("checking its lock file", err)
	}
}
