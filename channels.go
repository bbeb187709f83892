package kekbit

import (
	"errors"

	"github.com/kekbit-go/kekbit/adapters/mmap"
)

// ChannelState is what is at work on a channel: its String is the word
// ls shows ("live", "closed", "full", "abandoned", "unknown", "creating",
// "abandoned-create", "invalid").
type ChannelState = mmap.State

// The states ListChannels and ShmChannelStatus report.
const (
	// StateNone: there is no such channel.
	StateNone = mmap.StateNone
	// StateLive: a writer holds the channel (its process holds the
	// writer's lock).
	StateLive = mmap.StateLive
	// StateClosed: its writer closed it.
	StateClosed = mmap.StateClosed
	// StateFull: its writer filled it.
	StateFull = mmap.StateFull
	// StateAbandoned: no writer holds it and it is neither closed nor
	// full: its writer died or released it. Resume carries it on;
	// RemoveAbandoned removes it.
	StateAbandoned = mmap.StateAbandoned
	// StateUnknown: neither closed nor full, written by a writer that
	// takes no lock (the Rust crate's): whether it is alive only the
	// header's timeout can tell.
	StateUnknown = mmap.StateUnknown
	// StateCreating: a creator is at work on it (it holds the lock file's
	// lock); readers get ErrChannelNotReady meanwhile.
	StateCreating = mmap.StateCreating
	// StateAbandonedCreate: its creator died before it was ready (told by
	// the lock it held, not by age). RemoveAbandoned removes what it left,
	// and a new writer (ShmWriter, Create) takes the id over.
	StateAbandonedCreate = mmap.StateAbandonedCreate
	// StateInvalid: what is at the channel's path is not a readable
	// channel (a FIFO, a symbolic link, a planted sparse file, a bad
	// header, a corrupt record): Err says why.
	StateInvalid = mmap.StateInvalid
)

// ErrCreatorGone: the channel's creator died before the channel was ready;
// Open returns it with ErrChannelNotReady.
var ErrCreatorGone = mmap.ErrCreatorGone

// ChannelStatus is a channel of a root and its state.
type ChannelStatus struct {
	ID      uint64
	Path    string       // its channel file
	State   ChannelState // see the State constants
	Records uint64       // the records it holds, for a channel read to its end (closed, full, abandoned, unknown)
	Err     error        // why it is StateInvalid
}

// ListChannels returns every channel id under root that has a channel file
// or a lock file, in increasing order, with its state: live, creating and
// abandoned-create as the locks tell (at once, whatever the age of the
// files), and for a channel no writer holds, closed, full, abandoned or
// unknown as reading it to its end tells (which costs what the channel
// holds, and for a hostile file no more than its real size). What is no
// channel is listed as StateInvalid with the reason. opts configure the
// volume (mmap.WithSharedRoot for a group-shared root). A root that does
// not exist holds no channels; a root that another user could subvert is
// an error (ErrUntrusted).
func ListChannels(root string, opts ...mmap.VolumeOption) ([]ChannelStatus, error) {
	vol := mmap.NewVolume(root, opts...)
	entries, err := vol.States()
	if err != nil {
		return nil, err
	}
	list := make([]ChannelStatus, len(entries))
	for i, e := range entries {
		list[i] = status(vol, e.ID, e.Path, e.State, e.Err)
	}
	return list, nil
}

// ShmChannelStatus returns the state of channel channelID under root, as
// ListChannels tells it; StateNone if there is no such channel.
func ShmChannelStatus(root string, channelID uint64, opts ...mmap.VolumeOption) ChannelStatus {
	vol := mmap.NewVolume(root, opts...)
	s, err := vol.State(channelID)
	return status(vol, channelID, vol.Path(channelID), s, err)
}

// status is the ChannelStatus of channel id of vol, whose files and locks
// tell state s (or err): a channel no writer holds is read to its end.
func status(vol *mmap.Volume, id uint64, path string, s ChannelState, err error) ChannelStatus {
	cs := ChannelStatus{ID: id, Path: path, State: s, Err: err}
	if err != nil {
		cs.State = StateInvalid
		return cs
	}
	if s != mmap.StateGone {
		return cs
	}
	r, err := Open(vol, id)
	if err != nil {
		cs.State, cs.Err = StateInvalid, err
		if errors.Is(err, ErrChannelNotReady) || errors.Is(err, ErrChannelNotFound) {
			// It changed meanwhile (removed, or being made again).
			if s, perr := vol.State(id); perr == nil && s != mmap.StateGone {
				cs.State, cs.Err = s, nil
			}
		}
		return cs
	}
	defer r.Close()
	for {
		_, err = r.Read(func(Record) error { cs.Records++; return nil }, 0)
		if err != nil {
			break
		}
	}
	switch {
	case errors.Is(err, ErrClosed):
		cs.State = StateClosed
	case errors.Is(err, ErrChannelFull):
		cs.State = StateFull
	case errors.Is(err, ErrNothingYet):
		alive, aerr := r.WriterAlive()
		switch {
		case errors.Is(aerr, ErrLivenessUnknown):
			cs.State = StateUnknown
		case aerr != nil:
			cs.State, cs.Err = StateInvalid, aerr
		case alive:
			cs.State = StateLive // a writer took it over meanwhile
		default:
			cs.State = StateAbandoned
		}
	default:
		cs.State, cs.Err = StateInvalid, err
	}
	return cs
}
