package proptest

import (
	"fmt"

	"github.com/kekbit-go/kekbit/domain"
)

// record is one record the model's writer published.
type record struct {
	pos  uint64
	data []byte // nil for a heartbeat
}

// model is the expected state of a channel: the rules of DESIGN.md written
// as plainly as possible, with no reference to the implementation.
type model struct {
	hdr      domain.Header
	capacity uint64
	maxMsg   uint64
	pos      uint64 // the writer's position
	closed   bool
	records  []record
	readers  []uint64 // each reader's position
	expect   []result // what the last command must give, per reader or once
}

func newModel(h domain.Header) *model {
	return &model{
		hdr:      h,
		capacity: uint64(h.Capacity),
		maxMsg:   uint64(h.MaxMsgLen),
		pos:      8,
		records:  []record{{pos: 0}},
	}
}

func (m *model) String() string {
	return fmt.Sprintf("model(capacity=%d max=%d writer=%d closed=%v records=%d readers=%v)",
		m.capacity, m.maxMsg, m.pos, m.closed, len(m.records), m.readers)
}

func align8(n uint64) uint64 { return (n + 7) &^ 7 }

// write applies the writer rules to a payload of n bytes.
func (m *model) write(data []byte) result {
	n := uint64(len(data))
	avail := (m.capacity - m.pos) &^ 7
	switch {
	case m.closed:
		return result{Err: "WriterClosed"}
	case avail <= 8:
		return result{Err: "ChannelFull"}
	case n > m.maxMsg:
		return result{Err: "RecordTooLarge"}
	case n > avail-8:
		return result{Err: "NoSpace"}
	case n == 0:
		return result{Err: "EmptyPayload"}
	}
	size := align8(8 + n)
	m.records = append(m.records, record{pos: m.pos, data: data})
	m.pos += size
	return result{N: int(size)}
}

func (m *model) heartbeat() result {
	switch {
	case m.closed:
		return result{Err: "WriterClosed"}
	case (m.capacity-m.pos)&^7 <= 8:
		return result{Err: "ChannelFull"}
	}
	m.records = append(m.records, record{pos: m.pos})
	m.pos += 8
	return result{N: 8}
}

func (m *model) close() result {
	m.closed = true
	return result{}
}

// at returns the index of the record at pos, or -1.
func (m *model) at(pos uint64) int {
	for i, r := range m.records {
		if r.pos == pos {
			return i
		}
	}
	return -1
}

// read applies the reader rules for reader i, handing out up to max
// records (max <= 0: all).
func (m *model) read(i, max int) result {
	start := m.readers[i]
	pos := start
	var res result
	for max <= 0 || len(res.Recs) < max {
		if pos+8 >= m.capacity {
			res.Err = "ChannelFull"
			break
		}
		k := m.at(pos)
		if k < 0 { // the writer's end
			if m.closed {
				res.Err = "Closed"
			} else {
				res.Err = "NothingYet"
			}
			break
		}
		r := m.records[k]
		if r.data != nil {
			res.Recs = append(res.Recs, fmt.Sprintf("%d:%x", r.pos, r.data))
		}
		pos += align8(8 + uint64(len(r.data)))
	}
	m.readers[i] = pos
	res.N = int(pos - start)
	res.Pos = pos
	return res
}

// moveTo applies the MoveTo rules for reader i.
func (m *model) moveTo(i int, target uint64) result {
	switch {
	case target%8 != 0:
		return result{Err: "Unaligned", Pos: m.readers[i]}
	case target == m.pos || m.at(target) >= 0:
		m.readers[i] = target
		return result{Pos: target}
	case target < m.pos:
		return result{Err: "Unaligned", Pos: m.readers[i]}
	}
	return result{Err: "Unavailable", Pos: m.readers[i]}
}
