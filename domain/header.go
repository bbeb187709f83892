package domain

import (
	"encoding/binary"
	"fmt"
	"time"
)

// Header is a channel's metadata, the first 128 bytes of its file.
type Header struct {
	Version      Version
	WriterID     uint64
	ChannelID    uint64
	Capacity     uint32   // bytes in the data region
	MaxMsgLen    uint32   // the longest payload a writer accepts
	Timeout      uint64   // in TickUnit ticks
	CreationTime uint64   // in TickUnit ticks since the Unix epoch
	TickUnit     TickUnit // unit of Timeout and CreationTime

	// In the extension block (zero in format 1.0.0 channels):
	Envelope Envelope // the fields at the start of every record's payload
	SeqBase  uint64   // the sequence number of the channel's first record

	// In the extension block of a journal segment (zero otherwise):
	JournalID JournalID // the journal the channel is a segment of
	Segment   uint64    // the segment's index in the journal

	// MultiWriter: the channel takes records from many writers at once
	// (extension flag bit 4; see Join and FORMAT.md, "Multiple writers").
	MultiWriter bool
}

// Hints are what a writer asks for; NewHeader turns them into a valid
// Header the way the Rust crate does.
type Hints struct {
	WriterID  uint64
	ChannelID uint64
	// Capacity is rounded up to a multiple of 8 and to at least MinCapacity.
	Capacity uint32
	// MaxMsgLen becomes align8(min(MaxMsgLen+8, capacity/128-8)).
	MaxMsgLen uint32
	// Timeout in TickUnit ticks: how long readers wait for anything,
	// heartbeats included, before they give the writer up. Set it: 0 means
	// a reader gives up at its second look at a channel with nothing new.
	Timeout  uint64
	TickUnit TickUnit
	// Clock gives the creation time; nil means time.Now.
	Clock func() time.Time
	// Envelope names the fields every record carries before its payload
	// (CRC32C, sequence number, time); 0 for none, a format 1.0.0 channel.
	// MaxMsgLen then grows by the envelope's length, so that payloads of
	// MaxMsgLen bytes still fit.
	Envelope Envelope
	// SeqBase is the sequence number of the channel's first record.
	SeqBase uint64
	// MultiWriter makes a channel that any number of writers, in this
	// process and others, append to at once (see Join).
	MultiWriter bool
}

// NewHeader builds the header for the given hints. It fails only for an
// unknown tick unit or a capacity above MaxCapacity.
func NewHeader(h Hints) (Header, error) {
	if !h.TickUnit.Valid() {
		return Header{}, fmt.Errorf("%w: %w: id %d", ErrInvalidHints, ErrUnknownTickUnit, uint8(h.TickUnit))
	}
	capacity := max(uint64(MinCapacity), Align8(uint64(h.Capacity)))
	if capacity > MaxCapacity {
		return Header{}, fmt.Errorf("%w: capacity %d is above the largest, %d", ErrInvalidHints, h.Capacity, uint64(MaxCapacity))
	}
	if h.Envelope&^EnvelopeAll != 0 {
		return Header{}, fmt.Errorf("%w: unknown envelope fields %#x", ErrInvalidHints, uint32(h.Envelope&^EnvelopeAll))
	}
	maxMsg := Align8(min(uint64(h.MaxMsgLen)+RecordHeaderLen+h.Envelope.Len(), capacity/128-8))
	if maxMsg <= h.Envelope.Len() {
		return Header{}, fmt.Errorf("%w: a record of at most %d bytes leaves no room for a payload after the %d-byte envelope", ErrInvalidHints, maxMsg, h.Envelope.Len())
	}
	now := time.Now
	if h.Clock != nil {
		now = h.Clock
	}
	return Header{
		Version:      CurrentVersion,
		WriterID:     h.WriterID,
		ChannelID:    h.ChannelID,
		Capacity:     uint32(capacity),
		MaxMsgLen:    uint32(maxMsg),
		Timeout:      h.Timeout,
		CreationTime: h.TickUnit.At(now()),
		TickUnit:     h.TickUnit,
		Envelope:     h.Envelope,
		SeqBase:      h.SeqBase,
		MultiWriter:  h.MultiWriter,
	}, nil
}

// TimeoutDuration returns the timeout as a duration.
func (h Header) TimeoutDuration() time.Duration { return h.TickUnit.ToDuration(h.Timeout) }

// Created returns the creation time.
func (h Header) Created() time.Time {
	return time.Unix(0, 0).Add(h.TickUnit.ToDuration(h.CreationTime))
}

// FileSize is the size of the file this package writes for the channel.
func (h Header) FileSize() int64 { return FileSize(h.Capacity) }

// MaxPayload is the longest payload a writer accepts: MaxMsgLen less the
// envelope.
func (h Header) MaxPayload() uint32 { return h.MaxMsgLen - uint32(h.Envelope.Len()) }

// EncodedLen is the length of the encoded header: 128 bytes, or 192 with
// the extension block.
func (h Header) EncodedLen() int {
	if h.extended() {
		return ExtOffset + ExtLen
	}
	return HeaderLen
}

// MarshalBinary returns the encoded header: 128 bytes, and the 64 of the
// extension block if the channel uses one.
func (h Header) MarshalBinary() ([]byte, error) {
	b := make([]byte, ExtOffset+ExtLen)
	h.put(b)
	return b[:h.EncodedLen()], nil
}

func (h Header) put(b []byte) {
	le := binary.LittleEndian
	le.PutUint64(b[0:], Signature)
	le.PutUint64(b[8:], uint64(h.Version))
	le.PutUint64(b[16:], h.WriterID)
	le.PutUint64(b[24:], h.ChannelID)
	le.PutUint32(b[32:], h.Capacity)
	le.PutUint32(b[36:], h.MaxMsgLen)
	le.PutUint64(b[40:], h.Timeout)
	le.PutUint64(b[48:], h.CreationTime)
	b[56] = h.TickUnit.ID()
	clear(b[57:HeaderLen])
	if len(b) >= ExtOffset+ExtLen {
		h.putExtension(b)
	}
}

// UnmarshalBinary decodes and validates a header; see DecodeHeader.
func (h *Header) UnmarshalBinary(b []byte) error {
	d, err := DecodeHeader(b)
	if err != nil {
		return err
	}
	*h = d
	return nil
}

// DecodeHeader decodes the header at the start of b and validates every
// field. It returns a *HeaderError naming the first invalid field: the
// length of b, the signature, a version newer than CurrentVersion, the
// capacity, the max record length, the tick unit.
func DecodeHeader(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, &HeaderError{Field: "length", Want: fmt.Sprintf(">= %d bytes", HeaderLen), Got: uint64(len(b))}
	}
	le := binary.LittleEndian
	if sig := le.Uint64(b[0:]); sig != Signature {
		return Header{}, &HeaderError{Field: "signature", Want: fmt.Sprintf("%#x (*KEKBIT*)", Signature), Got: sig}
	}
	h := Header{
		Version:      Version(le.Uint64(b[8:])),
		WriterID:     le.Uint64(b[16:]),
		ChannelID:    le.Uint64(b[24:]),
		Capacity:     le.Uint32(b[32:]),
		MaxMsgLen:    le.Uint32(b[36:]),
		Timeout:      le.Uint64(b[40:]),
		CreationTime: le.Uint64(b[48:]),
		TickUnit:     TickUnit(b[56]),
	}
	if err := h.Validate(); err != nil {
		return h, err
	}
	if err := h.decodeExtension(b); err != nil {
		return h, err
	}
	return h, h.Validate()
}

// Validate checks the fields a reader relies on and returns a *HeaderError
// for the first invalid one.
func (h Header) Validate() error {
	switch {
	case !CurrentVersion.CanRead(h.Version):
		return &HeaderError{Field: "version", Want: "<= " + CurrentVersion.String(), Got: uint64(h.Version)}
	case h.Capacity < MinCapacity || h.Capacity%8 != 0:
		return &HeaderError{Field: "capacity", Want: fmt.Sprintf("a multiple of 8, >= %d", MinCapacity), Got: uint64(h.Capacity)}
	case h.MaxMsgLen%8 != 0 || h.MaxMsgLen > MaxMsgLenLimit(h.Capacity):
		return &HeaderError{Field: "max_msg_len", Want: fmt.Sprintf("a multiple of 8, <= %d", MaxMsgLenLimit(h.Capacity)), Got: uint64(h.MaxMsgLen)}
	case !h.TickUnit.Valid():
		return &HeaderError{Field: "tick_unit", Want: "9, 6, 3 or 0", Got: uint64(h.TickUnit)}
	case h.Envelope&^EnvelopeAll != 0:
		return &HeaderError{Field: "envelope", Want: fmt.Sprintf("a subset of %#x", uint32(EnvelopeAll)), Got: uint64(h.Envelope)}
	case h.Envelope != 0 && uint64(h.MaxMsgLen) <= h.Envelope.Len():
		return &HeaderError{Field: "max_msg_len", Want: fmt.Sprintf("more than the %d-byte envelope", h.Envelope.Len()), Got: uint64(h.MaxMsgLen)}
	}
	return nil
}
