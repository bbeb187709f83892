package proptest

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/kekbit-go/kekbit/domain"
)

// record is one record the model's writer published.
type record struct {
	pos       uint64
	data      []byte // the user's payload; nil for a heartbeat
	seq, time uint64 // on a channel with an envelope: its sequence number and time stamp
}

// model is the expected state of a channel: the rules of DESIGN.md and
// FORMAT.md written as plainly as possible, with no reference to the
// implementation.
type model struct {
	hdr      domain.Header
	capacity uint64
	maxMsg   uint64
	pos      uint64 // the writer's position
	closed   bool
	records  []record
	readers  []uint64 // each reader's position
	expect   []result // what the last command must give, per reader or once

	// A channel with an envelope (FORMAT.md): its fields (flags word: 1
	// CRC32C, 2 sequence number, 4 time), their length, the longest user
	// payload, the first record's sequence number, and the records
	// written so far (each stamped with the writer clock's next time).
	env        uint32
	envLen     uint64
	maxPayload uint64
	seqBase    uint64
	sealed     uint64

	// The writer's progress mark (FORMAT.md), on a channel with the
	// extension block: records<<32 | position, as of the create, every
	// 1024th record, each heartbeat and the close; and the records so far.
	extended bool
	mark     uint64
	count    uint64
}

func newModel(h domain.Header) *model {
	m := &model{
		hdr:      h,
		capacity: uint64(h.Capacity),
		maxMsg:   uint64(h.MaxMsgLen),
		pos:      8,
		records:  []record{{pos: 0}},
		env:      uint32(h.Envelope),
		seqBase:  h.SeqBase,
	}
	for f := uint32(1); f <= 4; f <<= 1 {
		if m.env&f != 0 {
			m.envLen += 8
		}
	}
	m.maxPayload = m.maxMsg - m.envLen
	m.extended = m.env != 0 || m.seqBase != 0
	m.markProgress()
	return m
}

// markProgress is the writer storing its progress mark.
func (m *model) markProgress() {
	if m.extended {
		m.mark = m.count<<32 | m.pos
	}
}

func (m *model) String() string {
	return fmt.Sprintf("model(capacity=%d max=%d envelope=%d base=%d writer=%d closed=%v records=%d readers=%v)",
		m.capacity, m.maxMsg, m.env, m.seqBase, m.pos, m.closed, len(m.records), m.readers)
}

func align8(n uint64) uint64 { return (n + 7) &^ 7 }

// writeClock is the writer's clock in every backend: the k-th time it is
// asked (from 1), it says fixedNow plus k times 1.5 ms. The writer asks it
// once for each record it writes on a channel whose envelope has the time.
func writeClock() func() time.Time {
	k := 0
	return func() time.Time { k++; return clockAt(k) }
}

func clockAt(k int) time.Time { return fixedNow.Add(time.Duration(k) * 1500 * time.Microsecond) }

// ticks is t in the header's tick unit since the Unix epoch.
func (m *model) ticks(t time.Time) uint64 {
	switch m.hdr.TickUnit.ID() {
	case 9:
		return uint64(t.UnixNano())
	case 6:
		return uint64(t.UnixMicro())
	case 3:
		return uint64(t.UnixMilli())
	}
	return uint64(t.Unix())
}

// write applies the writer rules to a payload of n bytes: on a channel
// with an envelope, n counts the user's bytes, the record takes the
// envelope's too, and no record fits once the space left holds no more
// than a length word and the envelope.
func (m *model) write(data []byte) result {
	n := uint64(len(data))
	avail := (m.capacity - m.pos) &^ 7
	switch {
	case m.closed:
		return result{Err: "WriterClosed"}
	case avail <= 8+m.envLen:
		return result{Err: "ChannelFull"}
	case n > m.maxPayload:
		return result{Err: "RecordTooLarge"}
	case n > avail-8-m.envLen:
		return result{Err: "NoSpace"}
	case n == 0:
		return result{Err: "EmptyPayload"}
	}
	size := align8(8 + m.envLen + n)
	r := record{pos: m.pos, data: data}
	if m.env != 0 {
		r.seq = m.seqBase + m.sealed
		m.sealed++
		if m.env&4 != 0 {
			r.time = m.ticks(clockAt(int(m.sealed)))
		}
	}
	m.records = append(m.records, r)
	m.pos += size
	if m.count++; m.count%1024 == 0 {
		m.markProgress()
	}
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
	m.markProgress()
	return result{N: 8}
}

func (m *model) close() result {
	if !m.closed {
		m.markProgress()
	}
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
		size := uint64(8)
		if r.data != nil {
			res.Recs = append(res.Recs, m.show(r))
			size = align8(8 + m.envLen + uint64(len(r.data)))
		}
		pos += size
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

// show is how a read result lists a record: "pos:hex", and on a channel
// with an envelope its sequence number and time as the reader says them.
func (m *model) show(r record) string {
	if m.env == 0 {
		return fmt.Sprintf("%d:%x", r.pos, r.data)
	}
	return fmt.Sprintf("%d:%x seq=%d time=%d", r.pos, r.data, r.seq, r.time)
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// image is the channel file the model's channel must be, byte for byte:
// the header (and its extension block), every record with its envelope
// (CRC32C over the length word and the rest of the record, padding
// included), the watermark after the last one or the close mark, and the
// close trailer of a closed channel with an envelope.
func (m *model) image() []byte {
	le := binary.LittleEndian
	b := make([]byte, 1024+m.capacity+32)
	le.PutUint64(b[0:], 0x2A54_4942_4B45_4B2A)
	le.PutUint64(b[8:], 1<<48)
	le.PutUint64(b[16:], m.hdr.WriterID)
	le.PutUint64(b[24:], m.hdr.ChannelID)
	le.PutUint32(b[32:], uint32(m.capacity))
	le.PutUint32(b[36:], uint32(m.maxMsg))
	le.PutUint64(b[40:], m.hdr.Timeout)
	le.PutUint64(b[48:], m.ticks(fixedNow))
	b[56] = m.hdr.TickUnit.ID()
	if m.env != 0 || m.seqBase != 0 {
		le.PutUint64(b[128:], 0x3130_5458_424B_454B)
		le.PutUint32(b[136:], 1)
		le.PutUint32(b[140:], m.env)
		le.PutUint32(b[144:], uint32(m.envLen))
		le.PutUint64(b[152:], m.seqBase)
		le.PutUint32(b[188:], crc32.Checksum(b[:188], castagnoli))
	}
	data := b[1024:]
	count := uint64(0)
	for _, r := range m.records {
		if r.data == nil {
			continue // a heartbeat: a zero word
		}
		count++
		n := m.envLen + uint64(len(r.data))
		rec := data[r.pos : r.pos+align8(8+n)]
		le.PutUint64(rec, n)
		e := rec[8:]
		if m.env&1 != 0 {
			e = e[8:] // the CRC, filled last
		}
		if m.env&2 != 0 {
			le.PutUint64(e, r.seq)
			e = e[8:]
		}
		if m.env&4 != 0 {
			le.PutUint64(e, r.time)
			e = e[8:]
		}
		copy(e, r.data)
		if m.env&1 != 0 {
			le.PutUint32(rec[8:], crc32.Update(crc32.Checksum(rec[:8], castagnoli), castagnoli, rec[12:]))
		}
	}
	if m.closed {
		le.PutUint64(data[m.pos:], 0xFFFF_FFFF_FFFF_FFFF)
		if m.env != 0 {
			le.PutUint64(b[192:], m.pos)
			le.PutUint64(b[200:], count)
			le.PutUint32(b[208:], crc32.Checksum(b[192:208], castagnoli))
		}
	} else {
		le.PutUint64(data[m.pos:], 0xFFFF_FFFF_1111_1111)
	}
	le.PutUint64(b[256:], m.mark)
	return b
}
