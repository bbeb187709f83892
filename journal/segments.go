package journal

import (
	"fmt"
	"sort"
	"sync"

	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/ports"
)

// segment is what the journal knows of one of its segments, from its
// header (which never changes) and, once it is closed, from its end.
type segment struct {
	id      uint64 // its index, which is its channel id
	hdr     domain.Header
	size    int64  // bytes of its storage
	end     uint64 // where it was closed, once closed
	records uint64 // the records it holds, once closed
	closed  bool
}

// catalog caches the headers of a volume's segments: they never change,
// and a seek that bisects segments would otherwise open each it looks at.
// It is safe for concurrent use.
type catalog struct {
	vol ports.Volume

	mu    sync.Mutex
	known map[uint64]*segment
	ids   []uint64 // the last list, nil before the first
}

func newCatalog(vol ports.Volume) *catalog {
	return &catalog{vol: vol, known: make(map[uint64]*segment)}
}

// list returns the indexes of the ready segments, in increasing order.
func (c *catalog) list() ([]uint64, error) {
	ids, err := c.vol.List()
	if err != nil {
		return nil, fmt.Errorf("kekbit: journal: listing the segments: %w", err)
	}
	c.mu.Lock()
	c.ids = ids
	c.mu.Unlock()
	return ids, nil
}

// find bisects the segments for the first whose header is above (a
// predicate false for some first segments and true for all after them)
// and returns the list and that index (len(ids) for none). It uses the
// last list, and lists again when the answer lies past its end (the writer
// may have made segments since) or at its start (retention may have
// removed some).
func (c *catalog) find(above func(domain.Header) bool) (ids []uint64, i int, err error) {
	c.mu.Lock()
	ids = c.ids
	c.mu.Unlock()
	for try := 0; try < 2; try++ {
		if ids == nil || try == 1 {
			if ids, err = c.list(); err != nil {
				return nil, 0, err
			}
		}
		var ierr error
		i = sort.Search(len(ids), func(i int) bool {
			s, err := c.info(ids[i])
			if err != nil {
				ierr = err
				return true
			}
			return above(s.hdr)
		})
		if ierr == nil && i > 0 && i < len(ids) {
			return ids, i, nil
		}
		err = ierr
	}
	return ids, i, err
}

// info returns segment id's header and size, from the cache or by opening
// it.
func (c *catalog) info(id uint64) (*segment, error) {
	c.mu.Lock()
	s, ok := c.known[id]
	c.mu.Unlock()
	if ok {
		return s, nil
	}
	st, err := c.vol.Open(id)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	h, err := segmentHeader(st, id)
	if err != nil {
		return nil, err
	}
	s = &segment{id: id, hdr: h, size: st.Size()}
	c.mu.Lock()
	c.known[id] = s
	c.mu.Unlock()
	return s, nil
}

// closedAt returns where segment id was closed (the position of its
// close mark) and the records it holds, from its close trailer, and false
// if it is not closed.
func (c *catalog) closedAt(id uint64) (at, records uint64, closed bool, err error) {
	s, err := c.info(id)
	if err != nil {
		return 0, 0, false, err
	}
	c.mu.Lock()
	at, records, closed = s.end, s.records, s.closed
	c.mu.Unlock()
	if closed {
		return at, records, true, nil
	}
	st, err := c.vol.Open(id)
	if err != nil {
		return 0, 0, false, err
	}
	defer st.Close()
	at, records, closed = domain.ReadTrailer(st)
	if closed {
		c.mu.Lock()
		s.end, s.records, s.closed = at, records, true
		c.mu.Unlock()
	}
	return at, records, closed, nil
}

// forget drops what the cache knows of segment id (it was removed).
func (c *catalog) forget(id uint64) {
	c.mu.Lock()
	delete(c.known, id)
	c.mu.Unlock()
}

// segmentHeader reads and checks the header of st, segment id.
func segmentHeader(st ports.Storage, id uint64) (domain.Header, error) {
	b := make([]byte, domain.ExtOffset+domain.ExtLen)
	if _, err := st.ReadAt(b, 0); err != nil {
		return domain.Header{}, fmt.Errorf("kekbit: journal: reading the header of segment %d: %w", id, err)
	}
	h, err := domain.DecodeHeader(b)
	if err != nil {
		return h, fmt.Errorf("kekbit: journal: segment %d: %w", id, err)
	}
	if h.JournalID == (domain.JournalID{}) {
		return h, fmt.Errorf("%w: channel %d", ErrNotJournal, id)
	}
	if h.Segment != id || h.ChannelID != id {
		return h, &domain.HeaderError{Field: "segment", Want: fmt.Sprintf("%d, the segment's channel id", id), Got: h.Segment}
	}
	return h, nil
}

// oldest returns the position of the first record of the oldest segment
// in ids (sorted), or 0 if there is none.
func oldest(ids []uint64) Position {
	if len(ids) == 0 {
		return 0
	}
	return MakePosition(ids[0], 0)
}

// search returns the index in ids (sorted) of id, and whether it is there.
func search(ids []uint64, id uint64) (int, bool) {
	i := sort.Search(len(ids), func(i int) bool { return ids[i] >= id })
	return i, i < len(ids) && ids[i] == id
}
