package domain_test

import (
	"errors"
	"testing"

	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
)

// aheadChannel writes n enveloped records of 40 bytes ("record" and its
// index) and returns the memory and the records' positions.
func aheadChannel(t *testing.T, n int) (*memory.Storage, []uint64) {
	t.Helper()
	h, err := domain.NewHeader(domain.Hints{ChannelID: 1, Capacity: 1 << 16, MaxMsgLen: 128, Timeout: 3600, TickUnit: domain.Nanos, Envelope: domain.EnvelopeAll})
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.New(h.FileSize())
	w, err := domain.NewWriter(mem.Share(), h, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	var pos []uint64
	at := uint64(domain.RecordHeaderLen) // after the first heartbeat
	for i := range n {
		pos = append(pos, at)
		p := make([]byte, 40)
		copy(p, "record")
		p[39] = byte(i)
		size, err := w.Write(p)
		if err != nil {
			t.Fatal(err)
		}
		at += uint64(size)
	}
	return mem, pos
}

// TestVerifiedInTheSameRead: a record damaged after one read and before
// the next is ErrCorrupt at the next, though the first read's run of CRC
// checks ahead (up to 16 records) had passed it: every read checks what
// it hands out: after reads of 1 and 3 records, five reads of one, and a
// read its handler stopped after 3.
func TestVerifiedInTheSameRead(t *testing.T) {
	stopAt := errors.New("enough")
	for _, first := range []int{1, 3, 0, -3} {
		mem, pos := aheadChannel(t, 40)
		r, err := domain.NewReader(mem.Share())
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		count := func(domain.Record) error { got++; return nil }
		if first > 0 {
			if n, err := r.Read(count, first); err != nil || got != first {
				t.Fatalf("first read of %d: %d records, %d bytes, %v", first, got, n, err)
			}
		} else if first < 0 { // a read of no limit that its handler stops
			first = -first
			_, err := r.Read(func(rec domain.Record) error {
				if got++; got == first {
					return stopAt
				}
				return nil
			}, 0)
			if err != stopAt || got != first {
				t.Fatalf("stopped read: %d records, %v", got, err)
			}
		} else { // one record at a time, each a read of its own
			for range 5 {
				if _, err := r.Read(count, 1); err != nil {
					t.Fatal(err)
				}
			}
			first = got
		}
		damaged := first + 2
		mem.Bytes()[domain.DataOffset+pos[damaged]+40] ^= 1 // a payload byte
		_, err = r.Read(count, 0)
		var re *domain.ReadError
		if !errors.As(err, &re) || !errors.Is(err, domain.ErrCorrupt) || re.Check != "crc" || re.Position != pos[damaged] {
			t.Fatalf("after %d records: read to %v, want ErrCorrupt (crc) at %d", first, err, pos[damaged])
		}
		if got != damaged {
			t.Fatalf("%d records handed out, want the %d before the damaged one", got, damaged)
		}
	}
}

// TestVerifyAheadSeqStillChecked: a record whose CRC is right but whose
// sequence number is not (a record copied from elsewhere in the channel)
// is ErrCorrupt naming the sequence, as without the run of checks ahead.
func TestVerifyAheadSeqStillChecked(t *testing.T) {
	mem, pos := aheadChannel(t, 20)
	b := mem.Bytes()[domain.DataOffset:]
	size := pos[1] - pos[0]
	copy(b[pos[6]:pos[6]+size], b[pos[2]:pos[2]+size]) // record 2 again in 6's place
	r, err := domain.NewReader(mem.Share())
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	_, err = r.Read(func(domain.Record) error { got++; return nil }, 0)
	var re *domain.ReadError
	if !errors.As(err, &re) || re.Check != "seq" || re.Position != pos[6] || got != 6 {
		t.Fatalf("%d records, then %v; want 6, then ErrCorrupt (seq) at %d", got, err, pos[6])
	}
}
