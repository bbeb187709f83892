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
	return prune(cat, positions, r, s.hdr.JournalID, time.Now())
}

// prune is Prune on a catalog, for journal id.
func prune(cat *catalog, positions Positions, r Retention, id domain.JournalID, now time.Time) ([]uint64, error) {
	if !r.active() {
		return nil, nil
	}
	ids, err := cat.list()
	if err != nil || len(ids) < 2 {
		return nil, err
	}
	need := ^uint64(0) // the oldest segment a named reader needs
	if positions != nil && !r.Force {
		names, err := positions.Names()
		if err != nil {
			return nil, err
		}
		for _, name := range names {
			m, ok, err := positions.Load(name)
			if err != nil {
				return nil, fmt.Errorf("kekbit: journal: position of reader %q: %w", name, err)
			}
			if ok && m.Journal == id {
				need = min(need, m.Position.Segment())
			}
		}
	}
	var total int64
	infos := make([]*segment, len(ids))
	for i, seg := range ids {
		if infos[i], err = cat.info(seg); err != nil {
			return nil, err
		}
		total += infos[i].size
	}
	var removed []uint64
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
		if err := cat.vol.Remove(seg); err != nil && !errors.Is(err, ports.ErrChannelNotFound) {
			return removed, fmt.Errorf("kekbit: journal: removing segment %d: %w", seg, err)
		}
		cat.forget(seg)
		total -= infos[i].size
		removed = append(removed, seg)
	}
	return removed, nil
}
