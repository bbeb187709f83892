package domain

import (
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/kekbit-go/kekbit/internal/atomicx"
	"github.com/kekbit-go/kekbit/ports"
)

// ProgressOffset is the file offset of the writer's progress mark, a word
// of the header's reserved bytes on a cache line of its own: the write
// position in its low 32 bits and the records before it in its high 32
// bits, 0 for none. On a channel with the extension block (an envelope, a
// sequence base, a journal segment) a writer of this package stores it at
// create, every progressEvery records and at each heartbeat, flush, close,
// release and resume, so a tool can tell how far the channel has come by
// walking at most progressEvery records from it (ReadProgress) rather
// than the whole channel. A plain channel keeps format 1.0.0's bytes
// exactly, zeros there. The crate never looks at it; readers never depend
// on it.
const ProgressOffset = 256

// progressEvery is how many records a writer writes between two stores
// of its progress mark (a power of two).
const progressEvery = 1024

// progressWord packs a progress mark.
func progressWord(pos, records uint64) uint64 { return records<<32 | pos&(1<<32-1) }

// markProgress stores the writer's progress mark, on a channel with the
// extension block.
func (w *Writer[T]) markProgress() {
	if !w.marks {
		return
	}
	v := progressWord(w.pos, w.records)
	if w.progress != nil {
		atomicx.StoreRelease(w.progress, v)
		return
	}
	w.st.StoreUint64(ProgressOffset, v) // best effort: the mark is a hint
}

// Progress is how far a channel's writer has come, as ReadProgress finds
// it.
type Progress struct {
	Header Header
	// Position is the write position: where the next record goes, or
	// where the walk stopped (see End).
	Position uint64
	// Records is how many records come before Position (heartbeats not
	// counted).
	Records uint64
	// End is nil while the writer may write on (Position holds the
	// watermark), else why no record follows Position: ErrClosed,
	// ErrChannelFull, ErrCorrupt or ErrTruncated (a file cut short).
	End error
	// Walked is how many bytes the walk from the progress mark to
	// Position stepped over: what finding Position cost.
	Walked uint64
	// Marked says whether the walk started from the writer's progress mark
	// (false: from position 0, a channel the crate or an older writer
	// made).
	Marked bool
}

// ReadProgress returns how far the channel in st has come: its header, its
// write position and how many records precede it. It starts at the
// writer's progress mark (see ProgressOffset) when the header's storage has
// one that fits the channel, else at position 0, and walks the length
// words from there to the first position that holds no record; it reads
// no payload and verifies no envelope. A mark planted in a hostile file
// can make the figures wrong, never make the walk leave the storage or
// crash: memory that vanishes under it ends the walk with ErrTruncated.
func ReadProgress(st ports.Storage) (Progress, error) {
	h, err := readHeader(st)
	if err != nil {
		return Progress{}, err
	}
	p := Progress{Header: h}
	g := newRegion(st, h)
	fileEnd := uint64(max(st.Size()-DataOffset, 0))
	if st.Size() >= ProgressOffset+8 {
		if m, err := st.LoadUint64(ProgressOffset); err == nil && m != 0 {
			pos := m & (1<<32 - 1)
			if pos%8 == 0 && pos < g.capacity && pos <= fileEnd {
				p.Position, p.Records, p.Marked = pos, m>>32, true
			}
		}
	}
	start := p.Position
	p.End = g.walk(&p.Position, &p.Records, fileEnd)
	p.Walked = p.Position - start
	if p.End == ErrNothingYet {
		p.End = nil
	}
	return p, nil
}

// walk steps over the records and heartbeats from *pos until a position
// that holds none, counting the records into *records, and returns the
// sentinel classify gave there; a fault of vanishing memory is
// ErrTruncated.
func (g *region) walk(pos, records *uint64, fileEnd uint64) (err error) {
	if g.faults != nil {
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer catchFault(g.faults, &err)
	}
	for {
		word, end, err := g.classify(*pos, fileEnd)
		if err != nil {
			if err != ErrNothingYet && err != ErrClosed && err != ErrChannelFull && err != ErrCorrupt && err != ErrTruncated {
				return fmt.Errorf("kekbit: walking the channel at position %d: %w", *pos, err)
			}
			return err
		}
		if word != HeartbeatLen {
			*records++
		}
		*pos = end
	}
}

// ErrNoSeq is returned by SeqAt for a channel whose envelope has no
// sequence number.
var ErrNoSeq = errors.New("kekbit: the channel's records carry no sequence number")

// SeqAt returns the sequence number of the first record at or after
// position pos of the channel in st, skipping heartbeats, with one read of
// its envelope rather than a walk from position 0; pos must be a record
// boundary (a position a reader handed out). ok is false if no record is
// there yet: pos is the write position, or the channel ended there. It
// fails with ErrNoSeq for a channel without the envelope's sequence
// number. The record is not verified.
func SeqAt(st ports.Storage, pos uint64) (seq uint64, ok bool, err error) {
	h, err := readHeader(st)
	if err != nil {
		return 0, false, err
	}
	if !h.Envelope.Has(EnvelopeSeq) {
		return 0, false, ErrNoSeq
	}
	g := newRegion(st, h)
	fileEnd := uint64(max(st.Size()-DataOffset, 0))
	if pos%8 != 0 {
		return 0, false, fmt.Errorf("kekbit: position %d is not a multiple of 8", pos)
	}
	err = g.guarded(func() error {
		for {
			word, end, err := g.classify(pos, fileEnd)
			switch {
			case err == ErrNothingYet || err == ErrClosed || err == ErrChannelFull:
				return nil
			case err != nil:
				return fmt.Errorf("kekbit: reading the record at position %d: %w", pos, err)
			case word == HeartbeatLen:
				pos = end
				continue
			case word <= g.envLen:
				return fmt.Errorf("kekbit: the record at position %d: %w", pos, ErrCorrupt)
			}
			seq, err = g.load(pos + RecordHeaderLen + h.Envelope.seqAt())
			ok = err == nil
			return err
		}
	})
	return seq, ok, err
}

// guarded runs f, turning a fault of vanishing memory into ErrTruncated.
func (g *region) guarded(f func() error) (err error) {
	if g.faults != nil {
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer catchFault(g.faults, &err)
	}
	return f()
}
