package domain

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/bits"
	"strings"

	"github.com/kekbit-go/kekbit/internal/crc32c"
	"github.com/kekbit-go/kekbit/ports"
)

// The header extension block, file bytes 128..191 (see FORMAT.md). The
// Rust crate writes zeros there and never reads it; a channel whose block
// starts with ExtMagic uses the extensions its flags name.
const (
	// ExtOffset is the file offset of the extension block.
	ExtOffset = HeaderLen
	// ExtLen is the length of the extension block's fixed part.
	ExtLen = 64
	// ExtMagic is the first word of an extension block: the bytes
	// "KEKBXT01".
	ExtMagic uint64 = 0x3130_5458_424B_454B
	// ExtVersion is the version of the extension block this package
	// writes; a reader refuses a newer one.
	ExtVersion = 1

	// TrailerOffset is the file offset of the close trailer of an
	// enveloped channel: where the writer closed it and how many records
	// it holds, so that a reader can tell a lost tail from a clean end.
	TrailerOffset = ExtOffset + ExtLen
	// TrailerLen is the length of the close trailer.
	TrailerLen = 24
)

// Envelope says which fields every record of a channel carries at the
// start of its payload, before the user's bytes. Its value is the flags
// word of the extension block.
type Envelope uint32

// The envelope fields, in the order they lie in a record.
const (
	// EnvelopeCRC: a CRC32C (Castagnoli) of the whole record (length word,
	// envelope after the CRC, payload, padding), in 8 bytes (CRC u32, then
	// 4 zero bytes).
	EnvelopeCRC Envelope = 1 << 0
	// EnvelopeSeq: the record's sequence number, u64: SeqBase for the
	// channel's first record, one more for each next record.
	EnvelopeSeq Envelope = 1 << 1
	// EnvelopeTime: when the record was written, u64, in the header's tick
	// unit since the Unix epoch.
	EnvelopeTime Envelope = 1 << 2

	// EnvelopeAll is every envelope field.
	EnvelopeAll = EnvelopeCRC | EnvelopeSeq | EnvelopeTime
)

// Len returns the bytes the envelope takes at the start of each payload.
func (e Envelope) Len() uint64 { return 8 * uint64(bits.OnesCount32(uint32(e&EnvelopeAll))) }

// Has reports whether every field of f is in e.
func (e Envelope) Has(f Envelope) bool { return e&f == f }

// String names the fields, "crc,seq,time", or "none".
func (e Envelope) String() string {
	var names []string
	for _, f := range []struct {
		flag Envelope
		name string
	}{{EnvelopeCRC, "crc"}, {EnvelopeSeq, "seq"}, {EnvelopeTime, "time"}} {
		if e.Has(f.flag) {
			names = append(names, f.name)
		}
	}
	if rest := e &^ EnvelopeAll; rest != 0 {
		names = append(names, fmt.Sprintf("%#x", uint32(rest)))
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ",")
}

// ParseEnvelope is the reverse of String: "crc,seq,time", any subset in any
// order, "all" or "none".
func ParseEnvelope(s string) (Envelope, error) {
	switch s {
	case "all":
		return EnvelopeAll, nil
	case "none", "":
		return 0, nil
	}
	var e Envelope
	for _, name := range strings.Split(s, ",") {
		switch strings.TrimSpace(name) {
		case "crc":
			e |= EnvelopeCRC
		case "seq":
			e |= EnvelopeSeq
		case "time":
			e |= EnvelopeTime
		default:
			return 0, fmt.Errorf("kekbit: unknown envelope field %q (want crc, seq, time, all or none)", name)
		}
	}
	return e, nil
}

// offsets of the envelope fields in a payload with envelope e.
func (e Envelope) seqAt() uint64 {
	if e.Has(EnvelopeCRC) {
		return 8
	}
	return 0
}

func (e Envelope) timeAt() uint64 { return e.seqAt() + 8*uint64((e>>1)&1) }

// castagnoli is the CRC32C table (SSE4.2 / ARMv8 CRC instructions where
// the processor has them).
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// recordCRC returns the CRC32C of a record of length n whose bytes, from
// its envelope's CRC field on, are body (the 4 bytes of the CRC field
// itself excluded: body starts after them and runs to the end of the
// padding).
func recordCRC(n uint64, body []byte) uint32 {
	return crc32c.Update(crc32c.UpdateUint64(0, n), body)
}

// putExtension writes the extension block of h into b[ExtOffset:], or
// zeros if h uses no extension, and its CRC over b[:ExtOffset+ExtLen-4].
func (h Header) putExtension(b []byte) {
	x := b[ExtOffset : ExtOffset+ExtLen]
	clear(x)
	if !h.extended() {
		return
	}
	le := binary.LittleEndian
	le.PutUint64(x[0:], ExtMagic)
	le.PutUint32(x[8:], ExtVersion)
	le.PutUint32(x[12:], uint32(h.Envelope)|h.journalFlag()|h.multiFlag())
	le.PutUint32(x[16:], uint32(h.Envelope.Len()))
	le.PutUint64(x[24:], h.SeqBase)
	h.putJournal(x)
	le.PutUint32(x[ExtLen-4:], crc32.Checksum(b[:ExtOffset+ExtLen-4], castagnoli))
}

// extended reports whether h needs an extension block.
func (h Header) extended() bool {
	return h.Envelope != 0 || h.SeqBase != 0 || h.JournalID != (JournalID{}) || h.MultiWriter
}

// decodeExtension reads the extension block in b, if b holds one, into h.
func (h *Header) decodeExtension(b []byte) error {
	if len(b) < ExtOffset+ExtLen {
		return nil // a header alone: no extension
	}
	x := b[ExtOffset : ExtOffset+ExtLen]
	le := binary.LittleEndian
	if le.Uint64(x) != ExtMagic {
		// Format 1.0.0, as the crate writes it, has zeros here. A block
		// that is not all zeros but lacks the magic is one with a damaged
		// magic (read as plain, its records' envelopes would be handed out
		// as payload) or an unknown one: refused either way.
		for _, b := range x {
			if b != 0 {
				return &HeaderError{Field: "extension_magic", Want: fmt.Sprintf("%#x (KEKBXT01), or bytes 128..191 all zero", ExtMagic), Got: le.Uint64(x)}
			}
		}
		return nil
	}
	if want, got := crc32.Checksum(b[:ExtOffset+ExtLen-4], castagnoli), le.Uint32(x[ExtLen-4:]); want != got {
		return &HeaderError{Field: "extension_crc", Want: fmt.Sprintf("%#08x (the CRC32C of bytes 0..187)", want), Got: uint64(got)}
	}
	if v := le.Uint32(x[8:]); v == 0 || v > ExtVersion {
		return &HeaderError{Field: "extension_version", Want: fmt.Sprintf("1..%d", ExtVersion), Got: uint64(v)}
	}
	flags := le.Uint32(x[12:])
	if flags&^(uint32(EnvelopeAll)|FlagJournal|FlagMultiWriter) != 0 {
		return &HeaderError{Field: "extension_flags", Want: fmt.Sprintf("a subset of %#x", uint32(EnvelopeAll)|FlagJournal|FlagMultiWriter), Got: uint64(flags)}
	}
	env := Envelope(flags) & EnvelopeAll
	if n := le.Uint32(x[16:]); uint64(n) != env.Len() {
		return &HeaderError{Field: "envelope_length", Want: fmt.Sprintf("%d for %v", env.Len(), env), Got: uint64(n)}
	}
	h.Envelope, h.SeqBase = env, le.Uint64(x[24:])
	h.MultiWriter = flags&FlagMultiWriter != 0
	if h.MultiWriter && flags&FlagJournal != 0 {
		return &HeaderError{Field: "extension_flags", Want: "not both journal segment (bit 3) and multiple writers (bit 4)", Got: uint64(flags)}
	}
	return h.decodeJournal(x, flags)
}

// trailer is what the close trailer of an enveloped channel says.
type trailer struct {
	closedAt uint64 // position of the close mark
	records  uint64 // records in the channel
}

// ReadTrailer reads the close trailer an enveloped channel's writer left
// in st at Close: the position of the close mark and the records in the
// channel. ok is false if there is none (zeros, a CRC that does not match,
// a file too short to hold it).
func ReadTrailer(st ports.Storage) (closedAt, records uint64, ok bool) {
	var b [TrailerLen]byte
	if _, err := st.ReadAt(b[:], TrailerOffset); err != nil {
		return 0, 0, false
	}
	t, ok, _ := decodeTrailer(b[:])
	return t.closedAt, t.records, ok
}

// putTrailer encodes t into b, TrailerLen bytes, with its CRC.
func putTrailer(b []byte, t trailer) {
	le := binary.LittleEndian
	le.PutUint64(b[0:], t.closedAt)
	le.PutUint64(b[8:], t.records)
	le.PutUint32(b[16:], crc32.Checksum(b[:16], castagnoli))
	le.PutUint32(b[20:], 0)
}

// decodeTrailer reads a trailer from b; ok is false if b holds none (zeros,
// or a CRC that does not match: a trailer is written whole at Close).
// present says whether b holds anything but zeros: a trailer of a channel
// closed at 0 with no records (a repaired one) is not zeros, its CRC is
// not 0.
func decodeTrailer(b []byte) (t trailer, ok, present bool) {
	for _, c := range b[:TrailerLen] {
		if c != 0 {
			present = true
			break
		}
	}
	le := binary.LittleEndian
	if !present || le.Uint32(b[16:]) != crc32.Checksum(b[:16], castagnoli) || le.Uint32(b[20:]) != 0 {
		return trailer{}, false, present
	}
	return trailer{closedAt: le.Uint64(b[0:]), records: le.Uint64(b[8:])}, true, true
}
