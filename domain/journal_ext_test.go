package domain_test

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
)

func journalHeader(t *testing.T) domain.Header {
	t.Helper()
	h, err := domain.NewHeader(domain.Hints{ChannelID: 5, Capacity: 16384, MaxMsgLen: 64, TickUnit: domain.Nanos, Clock: fixedClock, Envelope: domain.EnvelopeAll, SeqBase: 1000})
	if err != nil {
		t.Fatal(err)
	}
	h.JournalID = domain.JournalID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	h.Segment = 5
	return h
}

// reseal recomputes the extension block's CRC after a test changed it.
func reseal(b []byte) {
	binary.LittleEndian.PutUint32(b[domain.ExtOffset+domain.ExtLen-4:], crc32.Checksum(b[:domain.ExtOffset+domain.ExtLen-4], crc32.MakeTable(crc32.Castagnoli)))
}

func TestJournalHeaderRoundTrip(t *testing.T) {
	h := journalHeader(t)
	b, err := h.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	if got := le.Uint32(b[140:]); got != uint32(domain.EnvelopeAll)|domain.FlagJournal {
		t.Fatalf("flags %#x, want %#x", got, uint32(domain.EnvelopeAll)|domain.FlagJournal)
	}
	if string(b[160:176]) != string(h.JournalID[:]) || le.Uint64(b[176:]) != 5 {
		t.Fatalf("journal fields at 160..183: % x", b[160:184])
	}
	d, err := domain.DecodeHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	if d != h {
		t.Fatalf("decoded %+v, want %+v", d, h)
	}
}

func TestJournalHeaderRefusals(t *testing.T) {
	for _, tc := range []struct {
		name  string
		field string
		edit  func(b []byte)
	}{
		{"journal flag with a zero id", "journal_id", func(b []byte) { clear(b[160:176]) }},
		{"journal flag without the whole envelope", "envelope", func(b []byte) {
			binary.LittleEndian.PutUint32(b[140:], uint32(domain.EnvelopeSeq|domain.EnvelopeTime)|domain.FlagJournal)
			binary.LittleEndian.PutUint32(b[144:], 16)
		}},
		{"reserved flag bit 4", "extension_flags", func(b []byte) { b[140] |= 1 << 4 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := journalHeader(t)
			b, _ := h.MarshalBinary()
			tc.edit(b)
			reseal(b)
			_, err := domain.DecodeHeader(b)
			var he *domain.HeaderError
			if !errors.As(err, &he) || he.Field != tc.field {
				t.Fatalf("got %v, want a HeaderError on %s", err, tc.field)
			}
		})
	}
}

func TestJournalEndMark(t *testing.T) {
	st := memory.New(domain.FileSize(16384))
	if domain.JournalEnded(st) {
		t.Fatal("zeros read as a journal end")
	}
	if err := domain.WriteJournalEnd(st); err != nil {
		t.Fatal(err)
	}
	if !domain.JournalEnded(st) {
		t.Fatal("journal end mark not found after WriteJournalEnd")
	}
	b := st.Bytes()
	b[domain.JournalEndOffset+9] ^= 1
	if domain.JournalEnded(st) {
		t.Fatal("a damaged end mark reads as an end")
	}
}

func TestJournalIDString(t *testing.T) {
	id, err := domain.NewJournalID()
	if err != nil {
		t.Fatal(err)
	}
	back, err := domain.ParseJournalID(id.String())
	if err != nil || back != id {
		t.Fatalf("ParseJournalID(%q) = %v, %v", id.String(), back, err)
	}
	if _, err := domain.ParseJournalID("xyz"); err == nil {
		t.Fatal("bad id parsed")
	}
}

func TestSeal(t *testing.T) {
	st := memory.New(domain.FileSize(16384))
	h, err := domain.NewHeader(domain.Hints{Capacity: 16384, MaxMsgLen: 64, TickUnit: domain.Nanos, Envelope: domain.EnvelopeAll})
	if err != nil {
		t.Fatal(err)
	}
	w, err := domain.NewWriter(st, h, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("one"))
	w.Write([]byte("two"))
	if err := w.Seal(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("three")); !errors.Is(err, domain.ErrWriterClosed) {
		t.Fatalf("Write after Seal: %v", err)
	}
	if err := w.Seal(); !errors.Is(err, domain.ErrWriterClosed) {
		t.Fatalf("second Seal: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close after Seal: %v", err)
	}
	if _, err := st.ReadAt(make([]byte, 8), 0); err != nil {
		t.Fatalf("the storage is closed by Close after Seal: %v", err)
	}
	at, records, ok := domain.ReadTrailer(st)
	if !ok || records != 2 || at != uint64(w.WriteOffset()) {
		t.Fatalf("trailer: %d %d %v", at, records, ok)
	}
	r, err := domain.NewReader(st.Share())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		_, err := r.Read(func(domain.Record) error { n++; return nil }, 0)
		if err != nil {
			if !errors.Is(err, domain.ErrClosed) || n != 2 {
				t.Fatalf("read %d, %v; want 2 records and closed", n, err)
			}
			break
		}
	}
}
