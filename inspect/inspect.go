// Package inspect tells what every channel and journal under a root is
// doing, read-only, for operators: `kekbit stat` and the Prometheus
// collector (package kekbitprom) are built on it.
//
// A Snapshot reads headers and positions only. A channel's write position
// and record count come from the writer's progress mark (FORMAT.md: a
// channel with the extension block, whose writer leaves the mark at most
// 1,024 records behind it), a plain channel's from a walk of its length
// words from 0; either way the walk reads no payload and costs at most
// what the file really holds (a stale or planted mark, more of a walk). The
// channels are found the way package kekbit's ListChannels finds them,
// safe against what is not a channel: a FIFO, a folder, a link, a planted
// sparse file is a Channel with State "invalid" and Err saying why, and
// costs no more than its real size.
//
// Journals: the segments of a journal (channels whose header names a
// journal) are grouped into a Journal, and its named readers, kept in
// the folder "readers" next to the segments as `kekbit journal` keeps
// them (journal/positions.Mapped), are listed with their lag behind the
// writer in records and bytes. A root's subfolders that are journal
// folders of their own (`kekbit journal write DIR` under the root) are
// inspected the same way.
package inspect

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"time"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/journal"
	"github.com/kekbit-go/kekbit/journal/positions"
	"github.com/kekbit-go/kekbit/ports"
)

// Channel is one channel of a Snapshot.
type Channel struct {
	ID   uint64
	Path string
	// State is the word `kekbit ls` uses: live, closed, full, abandoned,
	// unknown (a crate channel nobody can tell the writer of), creating,
	// abandoned-create, corrupt, truncated or invalid.
	State string
	// Writer is "alive", "gone" or "unknown" (a channel whose writer takes
	// no lock: the crate's).
	Writer   string
	Capacity uint64 // bytes of the data region
	Written  uint64 // the write position: bytes of the data region taken
	Records  uint64 // records written (heartbeats not counted)
	Envelope string // the envelope's fields, "none" for a plain channel
	// NextSeq is the sequence number the next record gets (the sequence
	// base plus Records).
	NextSeq uint64
	Journal string // the journal id of a segment, in hex; "" for a lone channel
	Segment uint64 // its segment index
	// Walked is how many bytes finding Written took past the progress
	// mark (or from 0): what the snapshot of this channel cost.
	Walked uint64
	// Rates over the interval since the snapshot this one was compared
	// with (Snapshot.Since); 0 in a first snapshot.
	RecordsPerSec, BytesPerSec float64
	Err                        error // why the channel could not be read (State "invalid")
}

// Fill is the share of the data region taken, 0 to 1.
func (c Channel) Fill() float64 {
	if c.Capacity == 0 {
		return 0
	}
	return float64(c.Written) / float64(c.Capacity)
}

// Reader is a named reader of a journal and how far behind the writer it
// is.
type Reader struct {
	Name     string
	Position journal.Position // the position after the last record it committed
	// LagRecords and LagBytes are how far Position is behind the writer:
	// the records written after it, and the bytes of the data regions of
	// its segment and the later ones between it and the write position.
	LagRecords, LagBytes uint64
	Err                  error // why its position could not be read or placed
}

// Journal is one journal of a Snapshot: its segments, which are also in
// Snapshot.Channels, and its named readers.
type Journal struct {
	Dir      string // the folder of its segments (the root, or a subfolder of it)
	ID       string // the journal id in hex
	Segments []uint64
	Records  uint64 // records in the segments still there
	Written  uint64 // bytes taken in them
	NextSeq  uint64 // the sequence number of the next record
	State    string // the state of its last segment
	Writer   string // the writer of its last segment: alive, gone or unknown
	Readers  []Reader
	// Rates over the interval since the snapshot this one was compared
	// with (Snapshot.Since).
	RecordsPerSec, BytesPerSec float64
}

// Snapshot is what Inspect found under a root at one moment.
type Snapshot struct {
	Root     string
	Taken    time.Time
	Channels []Channel
	Journals []Journal
}

// Inspect takes a Snapshot of the channels and journals under root, an
// mmap volume's root (opts as for mmap.NewVolume, e.g. mmap.WithSharedRoot
// for a group's root). It fails only when the root itself cannot be read
// or is not to be trusted (mmap.ErrUntrusted); a channel that cannot be
// read is a Channel with its Err.
func Inspect(root string, opts ...mmap.VolumeOption) (*Snapshot, error) {
	s := &Snapshot{Root: root, Taken: time.Now()}
	if err := s.add(root, opts); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(root)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("kekbit: inspect: reading the root %s: %w", root, err)
	}
	for _, e := range entries {
		if !e.IsDir() || channelFolder.MatchString(e.Name()) || e.Name() == readersDir {
			continue
		}
		sub := filepath.Join(root, e.Name())
		if !isJournalDir(sub) {
			continue
		}
		if err := s.add(sub, opts); err != nil {
			// A subfolder we cannot read or trust is left out: the root's
			// own channels are what the caller asked for.
			continue
		}
	}
	return s, nil
}

// channelFolder matches the folders of a volume's channel files.
var channelFolder = regexp.MustCompile(`^[0-9a-f]{4}_[0-9a-f]{4}$`)

// readersDir is where `kekbit journal` keeps a journal's named readers.
const readersDir = "readers"

// isJournalDir reports whether dir looks like a journal's folder: it
// holds the readers folder or channel folders.
func isJournalDir(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if e.IsDir() && (e.Name() == readersDir || channelFolder.MatchString(e.Name())) {
			return true
		}
	}
	return false
}

// add inspects the volume rooted at dir into s.
func (s *Snapshot) add(dir string, opts []mmap.VolumeOption) error {
	vol := mmap.NewVolume(dir, opts...)
	entries, err := vol.States()
	if err != nil {
		return fmt.Errorf("kekbit: inspect: %w", err)
	}
	first := len(s.Channels)
	for _, e := range entries {
		s.Channels = append(s.Channels, channel(vol, e))
	}
	s.journals(vol, dir, s.Channels[first:])
	return nil
}

// channel reads what entry e of vol says.
func channel(vol *mmap.Volume, e mmap.Entry) Channel {
	c := Channel{ID: e.ID, Path: e.Path, State: e.State.String(), Writer: "unknown", Err: e.Err}
	switch e.State {
	case mmap.StateLive, mmap.StateGone:
	default:
		return c // creating, abandoned-create, invalid: nothing to read
	}
	st, err := vol.Open(e.ID)
	if err != nil {
		c.State, c.Err = mmap.StateInvalid.String(), err
		return c
	}
	defer st.Close()
	p, err := domain.ReadProgress(st)
	if err != nil {
		c.State, c.Err = mmap.StateInvalid.String(), err
		return c
	}
	h := p.Header
	c.Capacity, c.Written, c.Records, c.Walked = uint64(h.Capacity), p.Position, p.Records, p.Walked
	c.Envelope, c.NextSeq = h.Envelope.String(), h.SeqBase+p.Records
	if h.JournalID != (domain.JournalID{}) {
		c.Journal, c.Segment = h.JournalID.String(), h.Segment
	}
	alive := "unknown"
	if l, ok := st.(ports.Liveness); ok {
		if a, err := l.WriterAlive(); err == nil {
			alive = map[bool]string{true: "alive", false: "gone"}[a]
		}
	}
	c.Writer = alive
	switch {
	case errors.Is(p.End, domain.ErrClosed):
		c.State = "closed"
	case errors.Is(p.End, domain.ErrChannelFull):
		c.State = "full"
	case errors.Is(p.End, domain.ErrCorrupt):
		c.State = "corrupt"
	case errors.Is(p.End, domain.ErrTruncated):
		c.State = "truncated"
	case alive == "alive":
		c.State = "live"
	case alive == "gone":
		c.State = "abandoned"
	default:
		c.State = "unknown"
	}
	return c
}

// journals groups the segments among chans (the channels of vol, rooted
// at dir) into journals, with their named readers.
func (s *Snapshot) journals(vol *mmap.Volume, dir string, chans []Channel) {
	byID := map[string]*Journal{}
	var order []string
	for _, c := range chans {
		if c.Journal == "" {
			continue
		}
		j := byID[c.Journal]
		if j == nil {
			j = &Journal{Dir: dir, ID: c.Journal}
			byID[c.Journal] = j
			order = append(order, c.Journal)
		}
		j.Segments = append(j.Segments, c.ID)
		j.Records += c.Records
		j.Written += c.Written
		j.NextSeq, j.State, j.Writer = c.NextSeq, c.State, c.Writer // the channels come in id order: the last wins
	}
	for _, id := range order {
		j := byID[id]
		seg := map[uint64]Channel{} // this journal's segments only
		for _, c := range chans {
			if c.Journal == id {
				seg[c.ID] = c
			}
		}
		j.Readers = readers(vol, filepath.Join(dir, readersDir), j, seg)
		s.Journals = append(s.Journals, *j)
	}
}

// readers lists the named readers kept in dir whose positions are in
// journal j, with their lag; seg has j's segments by id.
func readers(vol *mmap.Volume, dir string, j *Journal, seg map[uint64]Channel) []Reader {
	if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() {
		return nil // none, or not a real folder (a planted link is not followed)
	}
	store := positions.NewMapped(dir)
	names, err := store.Names()
	if err != nil {
		return []Reader{{Name: "*", Err: err}}
	}
	sort.Strings(names)
	var out []Reader
	for _, name := range names {
		m, ok, err := store.Load(name)
		r := Reader{Name: name, Position: m.Position, Err: err}
		switch {
		case err != nil:
		case !ok:
			r.Err = errors.New("no position stored yet")
		case m.Journal.String() != j.ID:
			continue // another journal's reader
		default:
			r.LagRecords, r.LagBytes, r.Err = lag(vol, j, seg, m.Position)
		}
		out = append(out, r)
	}
	return out
}

// lag is how far journal position p is behind the writer of j
// (journal.LagOf, from what the snapshot read of each segment); seg has
// j's segments by id.
func lag(vol *mmap.Volume, j *Journal, seg map[uint64]Channel, p journal.Position) (records, bytes uint64, err error) {
	segs := make([]journal.SegmentEnd, 0, len(j.Segments))
	for _, id := range j.Segments {
		c := seg[id]
		segs = append(segs, journal.SegmentEnd{Segment: id, FirstSeq: c.NextSeq - c.Records, Written: c.Written, NextSeq: c.NextSeq})
	}
	l, err := journal.LagOf(segs, p, func(s, off uint64) (uint64, bool, error) {
		st, err := vol.Open(s)
		if err != nil {
			return 0, false, err
		}
		defer st.Close()
		return domain.SeqAt(st, off)
	})
	return l.Records, l.Bytes, err
}

// Since fills the rates of s's channels and journals over the time since
// prev, a snapshot of the same root taken before. A channel or journal
// that prev does not have counts from 0; one that went backwards (made
// again) gets 0.
func (s *Snapshot) Since(prev *Snapshot) {
	if prev == nil {
		return
	}
	dt := s.Taken.Sub(prev.Taken).Seconds()
	if dt <= 0 {
		return
	}
	before := map[string]Channel{}
	for _, c := range prev.Channels {
		before[c.Path] = c
	}
	for i, c := range s.Channels {
		b, ok := before[c.Path]
		if !ok {
			b = Channel{} // made during the interval (a journal's new segment): all of it is new
		}
		if c.Written >= b.Written && c.Records >= b.Records {
			s.Channels[i].RecordsPerSec = float64(c.Records-b.Records) / dt
			s.Channels[i].BytesPerSec = float64(c.Written-b.Written) / dt
		}
	}
	jb := map[string]Journal{}
	for _, j := range prev.Journals {
		jb[j.Dir+"/"+j.ID] = j
	}
	for i, j := range s.Journals {
		if b, ok := jb[j.Dir+"/"+j.ID]; ok && j.NextSeq >= b.NextSeq {
			s.Journals[i].RecordsPerSec = float64(j.NextSeq-b.NextSeq) / dt
			var rate float64
			for _, c := range s.Channels {
				if c.Journal == j.ID && filepath.Dir(filepath.Dir(c.Path)) == j.Dir {
					rate += c.BytesPerSec
				}
			}
			s.Journals[i].BytesPerSec = rate
		}
	}
}
