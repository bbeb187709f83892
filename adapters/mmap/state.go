package mmap

import "github.com/kekbit-go/kekbit/internal/layout"

// State is what is at work on a channel, as its files and locks tell
// (Volume.State, Volume.States), or as a reader of it tells further (the
// closed, full, abandoned and unknown states of package kekbit's
// ListChannels). Its String is the word ls shows.
type State = layout.State

// The states of a channel.
const (
	StateNone            = layout.StateNone            // neither a channel file nor a lock file
	StateLive            = layout.StateLive            // ready, and a writer holds the writer's lock
	StateGone            = layout.StateGone            // ready, and no writer holds it: closed, full or abandoned (a reader tells which)
	StateClosed          = layout.StateClosed          // ready, no writer, closed by its writer
	StateFull            = layout.StateFull            // ready, no writer, full
	StateAbandoned       = layout.StateAbandoned       // ready, no writer, neither closed nor full: its writer died or released it
	StateUnknown         = layout.StateUnknown         // ready, neither closed nor full, and its writer takes no lock (a crate channel)
	StateCreating        = layout.StateCreating        // a creator is at work on it (it holds the lock file's lock)
	StateAbandonedCreate = layout.StateAbandonedCreate // its creator died before it was ready (ErrCreatorGone)
	StateInvalid         = layout.StateInvalid         // not a channel: the error says why
)

// Entry is a channel id of a volume and its state: ID, Path (its channel
// file), State, and Err (why it is StateInvalid).
type Entry = layout.Entry

// State tells the state of channel id from its files and locks, at once:
// StateCreating or StateAbandonedCreate while its lock file exists (by the
// creator's lock, not by age), else StateLive or StateGone by the writer's
// lock, StateNone if there is no such channel, StateInvalid with the
// reason if what is at its path is no channel file (a FIFO, a symbolic
// link, ...). Its error is a *ports.ChannelError.
func (v *Volume) State(id uint64) (State, error) {
	s, err := layout.Probe(v.files(), v.Path(id))
	if err != nil {
		return s, v.channel(id).Error(layout.OpProbe, err)
	}
	return s, nil
}

// States returns every channel id under the root that has a channel file
// or a lock file, in increasing order, with its state as State tells it:
// the ids List leaves out (being created, or left by a creator that died)
// included. A root that does not exist holds no channels.
func (v *Volume) States() ([]Entry, error) {
	entries, err := layout.ListStates(v.files(), v.root)
	for i, e := range entries {
		if e.Err != nil {
			entries[i].Err = v.channel(e.ID).Error(layout.OpProbe, e.Err)
		}
	}
	return entries, err
}
