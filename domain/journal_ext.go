package domain

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"

	"github.com/kekbit-go/kekbit/ports"
)

// Journal segments (see FORMAT.md, "Journal segments"). A journal is a
// series of channels, its segments; each says in its extension block which
// journal it belongs to and its index there, and the last one, when the
// journal is closed, carries the journal's end mark next to its close
// trailer.

// FlagJournal is bit 3 of the extension block's flags word: the channel is
// a segment of a journal, and the block holds the journal id and the
// segment index.
const FlagJournal uint32 = 1 << 3

// The journal end mark, file bytes 216..231.
const (
	// JournalEndOffset is the file offset of the journal end mark.
	JournalEndOffset = TrailerOffset + TrailerLen
	// JournalEndLen is the length of the journal end mark.
	JournalEndLen = 16
	// JournalEndMagic is the first word of the journal end mark: the bytes
	// "KEKBJEND".
	JournalEndMagic uint64 = 0x444E_454A_424B_454B
)

// JournalID names a journal: 16 random bytes chosen when the journal is
// made, written in the extension block of each of its segments.
type JournalID [16]byte

// NewJournalID returns a fresh random journal id (never all zeros).
func NewJournalID() (JournalID, error) {
	for {
		var id JournalID
		if _, err := rand.Read(id[:]); err != nil {
			return id, fmt.Errorf("kekbit: making a journal id: %w", err)
		}
		if id != (JournalID{}) {
			return id, nil
		}
	}
}

// String returns the id as 32 lowercase hex digits.
func (id JournalID) String() string { return hex.EncodeToString(id[:]) }

// ParseJournalID is the reverse of String.
func ParseJournalID(s string) (JournalID, error) {
	var id JournalID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(id) {
		return id, fmt.Errorf("kekbit: journal id %q is not 32 hex digits", s)
	}
	copy(id[:], b)
	return id, nil
}

// journalFlag returns FlagJournal for a journal segment's header, else 0.
func (h Header) journalFlag() uint32 {
	if h.JournalID != (JournalID{}) {
		return FlagJournal
	}
	return 0
}

// putJournal writes the journal fields into the extension block x.
func (h Header) putJournal(x []byte) {
	if h.JournalID == (JournalID{}) {
		return
	}
	copy(x[32:48], h.JournalID[:])
	binary.LittleEndian.PutUint64(x[48:], h.Segment)
}

// decodeJournal reads the journal fields of the extension block x whose
// flags word is flags.
func (h *Header) decodeJournal(x []byte, flags uint32) error {
	if flags&FlagJournal == 0 {
		return nil
	}
	copy(h.JournalID[:], x[32:48])
	h.Segment = binary.LittleEndian.Uint64(x[48:])
	switch {
	case h.JournalID == (JournalID{}):
		return &HeaderError{Field: "journal_id", Want: "not all zero in a journal segment", Got: 0}
	case h.Envelope != EnvelopeAll:
		return &HeaderError{Field: "envelope", Want: fmt.Sprintf("%#x (crc,seq,time) in a journal segment", uint32(EnvelopeAll)), Got: uint64(h.Envelope)}
	}
	return nil
}

// WriteJournalEnd writes the journal end mark into st, the last segment of
// a journal, before its writer closes it: a reader that meets the segment's
// close mark then knows the journal ended there, and does not wait for a
// next segment.
func WriteJournalEnd(st ports.Storage) error {
	var b [JournalEndLen]byte
	le := binary.LittleEndian
	le.PutUint64(b[0:], JournalEndMagic)
	le.PutUint32(b[8:], crc32.Checksum(b[:8], castagnoli))
	if _, err := st.WriteAt(b[:], JournalEndOffset); err != nil {
		return fmt.Errorf("kekbit: writing the journal end mark: %w", err)
	}
	return nil
}

// JournalEnded reports whether st holds a valid journal end mark: its
// writer ended the journal with this segment.
func JournalEnded(st ports.Storage) bool {
	var b [JournalEndLen]byte
	if _, err := st.ReadAt(b[:], JournalEndOffset); err != nil {
		return false
	}
	le := binary.LittleEndian
	return le.Uint64(b[0:]) == JournalEndMagic && le.Uint32(b[8:]) == crc32.Checksum(b[:8], castagnoli) && le.Uint32(b[12:]) == 0
}

// Seal ends the channel as Close does (the close trailer of an enveloped
// channel, then the close mark) but leaves the storage open and unflushed,
// for the caller to Flush and Close, perhaps on another goroutine: a
// journal's writer seals the segment it rolls away from at once, so its
// readers move on, and unmaps it in the background. After Seal every
// method returns ErrWriterClosed and Close does nothing.
func (w *Writer[T]) Seal() error {
	if w.closed {
		return ErrWriterClosed
	}
	if w.multi != nil {
		return ErrMultiWriter
	}
	w.closed, w.blocked = true, true
	if w.envLen != 0 {
		var t [TrailerLen]byte
		putTrailer(t[:], trailer{closedAt: w.pos, records: w.records})
		if _, err := w.st.WriteAt(t[:], TrailerOffset); err != nil {
			return fmt.Errorf("kekbit: writing the close trailer: %w", err)
		}
	}
	return w.markClosed()
}
