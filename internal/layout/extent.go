package layout

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/kekbit-go/kekbit/domain"
)

// Errors of what is found at a channel's path and is not a channel.
var (
	// ErrNotRegular says that a channel's path names something other than a
	// regular file: a FIFO, a folder, a device, a socket. It is found
	// without waiting: the file is opened with O_NONBLOCK where the system
	// has it, so that a FIFO does not block the open.
	ErrNotRegular = errors.New("kekbit: not a regular file")
	// ErrHole says that a channel file's records, read from the start of
	// its data region, run into a hole of the file (bytes the file system
	// never allocated) before an end mark: no writer wrote what a reader
	// would read there, and reading it (zeros, taken for heartbeats) would
	// make the file system allocate it. A planted sparse file claiming a
	// large capacity is refused this way at the cost of its real size.
	ErrHole = errors.New("kekbit: the channel's records run into a hole in its file")
)

// Holes is an optional ability of a File on a file system that can tell
// where its holes are (SEEK_HOLE).
type Holes interface {
	// Allocated returns the bytes of storage the file system allocated to
	// the file (st_blocks), and false if it cannot tell.
	Allocated() (int64, bool)
	// DataEnd returns the end of the run of allocated bytes at off: off
	// itself if off lies in a hole, the file's length if off is at or past
	// its end. ok is false if the file system cannot tell.
	DataEnd(off int64) (end int64, ok bool)
}

// MapSize returns how many bytes of a channel file of size bytes a Storage
// needs: 1024 + capacity + 32 as its header says (domain.FileSize), less if
// the file is shorter. A file with no valid header (which a reader refuses
// for that), or that is no io.ReaderAt, keeps its size.
func MapSize(f File, size int64) (int64, error) {
	r, ok := f.(io.ReaderAt)
	if !ok {
		return size, nil
	}
	var b [domain.HeaderLen]byte
	if size < int64(len(b)) {
		return size, nil
	}
	if _, err := r.ReadAt(b[:], 0); err != nil {
		return 0, step("reading its header", err)
	}
	h, err := domain.DecodeHeader(b[:])
	if err != nil {
		return size, nil
	}
	return min(size, h.FileSize()), nil
}

// chunk is how much of a sparse file's data region CheckHoles reads at a
// time.
const chunk = 64 << 10

// CheckHoles returns an error wrapping ErrHole if the records of the
// channel file f, of which a Storage maps size bytes, run into a hole
// before an end mark (a watermark or close mark), read from the start of
// the data region as a reader reads them. It reads only allocated bytes,
// and only if the file has fewer blocks allocated than size and its data
// region has a hole: a file whose blocks are all reserved (as Create
// reserves them: on tmpfs such blocks are holes to SEEK_HOLE until they
// are written, but cost no more memory when read) costs one fstat. A file
// that cannot tell its holes, or has no valid header, passes: the reader
// checks the rest. A writer that writes meanwhile only moves the holes
// further: they are asked again before a hole is taken for one.
func CheckHoles(f File, size int64) error {
	hf, okH := f.(Holes)
	r, okR := f.(io.ReaderAt)
	if !okH || !okR || size <= domain.DataOffset {
		return nil
	}
	if n, ok := hf.Allocated(); !ok || n >= size {
		return nil
	}
	end, ok := hf.DataEnd(domain.DataOffset)
	if !ok || end >= size {
		return nil
	}
	var hb [domain.HeaderLen]byte
	if _, err := r.ReadAt(hb[:], 0); err != nil {
		return step("reading its header", err)
	}
	h, err := domain.DecodeHeader(hb[:])
	if err != nil {
		return nil
	}
	buf := make([]byte, chunk)
	var from, to int64 // buf holds the file's bytes [from, to)
	for pos := int64(domain.DataOffset); pos+8 <= size; {
		if pos < from || pos+8 > to {
			if end, _ = hf.DataEnd(pos); end < pos+8 {
				return fmt.Errorf("%w: at file offset %d, position %d, with no end mark before it", ErrHole, end, pos-domain.DataOffset)
			}
			n, err := r.ReadAt(buf[:min(int64(len(buf)), end-pos, size-pos)], pos)
			if n < 8 {
				return step("reading its records", err)
			}
			from, to = pos, pos+int64(n)&^7
		}
		word := binary.LittleEndian.Uint64(buf[pos-from:])
		if word == domain.Watermark || word == domain.CloseMark || word > uint64(h.MaxMsgLen) {
			return nil // an end mark, or damage the reader reports there
		}
		pos += int64(domain.Align8(domain.RecordHeaderLen + word))
	}
	return nil
}
