package domain_test

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
)

// TestReadProgress: on an enveloped channel ReadProgress finds the write
// position and the record count from the writer's progress mark, walking
// fewer than 1,024 records past it, at every point of a channel's life
// (fresh, written, heartbeats, closed, full); a plain channel has no mark
// (its bytes stay format 1.0.0's) and is walked from 0 to the same answer;
// a mark that does not fit the channel is ignored.
func TestReadProgress(t *testing.T) {
	for _, env := range []domain.Envelope{0, domain.EnvelopeAll} {
		h, err := domain.NewHeader(domain.Hints{ChannelID: 1, Capacity: 1 << 20, MaxMsgLen: 64, Timeout: 60, TickUnit: domain.Nanos, Envelope: env})
		if err != nil {
			t.Fatal(err)
		}
		st := memory.New(h.FileSize())
		w, err := domain.NewWriter(st.Share(), h, codecs.Raw{})
		if err != nil {
			t.Fatal(err)
		}
		check := func(what string, records uint64, end error) {
			t.Helper()
			p, err := domain.ReadProgress(st.Share())
			if err != nil {
				t.Fatalf("%v %s: %v", env, what, err)
			}
			if p.Position != uint64(w.WriteOffset()) || p.Records != records || !errors.Is(p.End, end) && p.End != end {
				t.Fatalf("%v %s: progress %+v, want position %d, %d records, end %v", env, what, p, w.WriteOffset(), records, end)
			}
			if env != 0 && (!p.Marked || p.Walked > 1024*domain.RecordSize(64+24)) {
				t.Fatalf("%v %s: walked %d bytes from the mark (marked %v)", env, what, p.Walked, p.Marked)
			}
			if env == 0 && (p.Marked || p.Walked != p.Position) {
				t.Fatalf("plain %s: marked %v, walked %d of %d", what, p.Marked, p.Walked, p.Position)
			}
		}
		check("fresh", 0, nil)
		data := make([]byte, 40)
		n := uint64(0)
		for range 5000 {
			if _, err := w.Write(data); err != nil {
				t.Fatal(err)
			}
			n++
		}
		check("after 5,000 records", n, nil)
		w.Heartbeat()
		check("after a heartbeat", n, nil)
		for {
			if _, err := w.Write(data); err != nil {
				break
			}
			n++
		}
		// With an envelope a heartbeat may fit where no record does: the
		// channel is full for records only, and its end still the watermark.
		full, fullClosed := error(domain.ErrChannelFull), error(domain.ErrChannelFull)
		if env != 0 {
			full, fullClosed = nil, domain.ErrClosed
		}
		check("full", n, full)
		w.Close()
		check("full, then closed", n, fullClosed) // as readers end it

		// Closed before it is full.
		st2 := memory.New(h.FileSize())
		w2, err := domain.NewWriter(st2.Share(), h, codecs.Raw{})
		if err != nil {
			t.Fatal(err)
		}
		for range 3000 {
			w2.Write(data)
		}
		w2.Close()
		if p, err := domain.ReadProgress(st2.Share()); err != nil || p.End != domain.ErrClosed || p.Records != 3000 || p.Position != uint64(w2.WriteOffset()) {
			t.Fatalf("%v closed: %+v, %v", env, p, err)
		}
		if env == 0 {
			if b := st.Bytes()[domain.ProgressOffset : domain.ProgressOffset+8]; binary.LittleEndian.Uint64(b) != 0 {
				t.Fatalf("a plain channel has a progress mark: % x", b)
			}
			continue
		}
		// A mark planted inside a record (a hostile file) makes the walk
		// take payload bytes for length words: the figures are wrong, but
		// the walk stays inside the channel and ends.
		binary.LittleEndian.PutUint64(st.Bytes()[domain.ProgressOffset:], 3<<32|(8+16))
		if p, err := domain.ReadProgress(st.Share()); err != nil || p.Position > uint64(h.Capacity) {
			t.Fatalf("with a mark inside a record: %+v, %v", p, err)
		}
		// A mark past the capacity is not followed.
		binary.LittleEndian.PutUint64(st.Bytes()[domain.ProgressOffset:], 7<<32|(1<<21))
		if p, err := domain.ReadProgress(st.Share()); err != nil || p.Marked || p.Records != n || p.Position != uint64(w.WriteOffset()) {
			t.Fatalf("with a mark past the capacity: %+v, %v", p, err)
		}
	}
}
