package journal

import (
	"errors"
	"fmt"
	"time"

	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/ports"
)

// Retention says which old segments a journal drops. A segment goes when
// any limit says so, oldest first; the current (last) segment never goes.
// Unless Force is set, a segment that a named reader (with a position in
// the journal's Positions) has not passed yet stays, and so does every
// later one.
type Retention struct {
	MaxSegments int           // keep at most this many segments; 0: no limit
	MaxBytes    int64         // keep at most this many bytes of segment files; 0: no limit
	MaxAge      time.Duration // drop segments closed longer ago than this; 0: no limit
	Force       bool          // drop what the limits say even if a named reader still needs it
}

func (r Retention) active() bool { return r.MaxSegments > 0 || r.MaxBytes > 0 || r.MaxAge > 0 }

// Prune applies retention r to the journal in vol now, keeping what the
// named readers in positions (nil: none) still need unless r.Force, and
// returns the indexes of the segments it removed.
func Prune(vol ports.Volume, positions Positions, r Retention) ([]uint64, error) {
	cat := newCatalog(vol)
	ids, err := cat.list()
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	s, err := cat.info(ids[len(ids)-1])
	if err != nil {
		return nil, err
	}
	removed, _, _, err := prune(cat, positions, r, s.hdr.JournalID, time.Now(), false, nil)
	return removed, err
}

// prune is Prune on a catalog, for journal id. With spare, the newest of
// the segments it would remove stays, for the writer to recycle into its
// next segment (a Recycler volume's): spare says which, ok if any.
// release, if not nil, runs before a segment is removed (the writer closes
// the storage it kept of it).
func prune(cat *catalog, positions Positions, r Retention, id domain.JournalID, now time.Time, spare bool, release func(seg uint64)) (removed []uint64, kept uint64, ok bool, err error) {
	if !r.active() {
		return nil, 0, false, nil
	}
	ids, err := cat.list()
	if err != nil || len(ids) < 2 {
		return nil, 0, false, err
	}
	need := ^uint64(0) // the oldest segment a named reader needs
	if !r.Force {
		if need, err = needed(positions, id); err != nil {
			return nil, 0, false, err
		}
	}
	var total int64
	infos := make([]*segment, len(ids))
	for i, seg := range ids {
		if infos[i], err = cat.info(seg); err != nil {
			return nil, 0, false, err
		}
		total += infos[i].size
	}
	var drop []uint64
	for i := 0; i < len(ids)-1; i++ {
		seg := ids[i]
		over := (r.MaxSegments > 0 && len(ids)-i > r.MaxSegments) || (r.MaxBytes > 0 && total > r.MaxBytes)
		if !over && r.MaxAge > 0 {
			// A segment closed when the next was made.
			closed := infos[i+1].hdr.Created()
			over = now.Sub(closed) > r.MaxAge
		}
		if !over || seg >= need {
			break
		}
		total -= infos[i].size
		drop = append(drop, seg)
	}
	if spare && len(drop) > 0 {
		kept, ok = drop[len(drop)-1], true
		drop = drop[:len(drop)-1]
	}
	for _, seg := range drop {
		if release != nil {
			release(seg)
		}
		if err := cat.vol.Remove(seg); err != nil && !errors.Is(err, ports.ErrChannelNotFound) {
			return removed, kept, ok, fmt.Errorf("kekbit: journal: removing segment %d: %w", seg, err)
		}
		cat.forget(seg)
		removed = append(removed, seg)
	}
	return removed, kept, ok, nil
}

// needed returns the oldest segment a named reader of journal id (with a
// position in positions, nil: none) still needs, ^0 for none.
func needed(positions Positions, id domain.JournalID) (uint64, error) {
	need := ^uint64(0)
	if positions == nil {
		return need, nil
	}
	names, err := positions.Names()
	if err != nil {
		return 0, err
	}
	for _, name := range names {
		m, ok, err := positions.Load(name)
		if err != nil {
			return 0, fmt.Errorf("kekbit: journal: position of reader %q: %w", name, err)
		}
		if ok && m.Journal == id {
			need = min(need, m.Position.Segment())
		}
	}
	return need, nil
}
