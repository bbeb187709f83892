package file

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/afero"

	"github.com/kekbit-go/kekbit/internal/layout"
	"github.com/kekbit-go/kekbit/ports"
)

// Storage is one channel file reached through an afero.File: bytes move
// with ReadAt and WriteAt, words as aligned 8-byte little-endian ReadAt and
// WriteAt. It implements ports.Storage, and deliberately not
// ports.Addressable: its bytes are in the file, not in this process's
// memory. A writer's Storage has the file open read-write and holds the
// writer's lock on it until Close (see the package documentation); a
// reader's has it open read-only. Like every ports.Storage it is used by
// one goroutine at a time.
type Storage struct {
	file     afero.File // a *channelFile: its Close releases its lock
	name     string     // the file's path, for error messages
	size     int64
	writable bool
	closed   bool
	word     [8]byte // LoadUint64 and StoreUint64 buffer, so they do not allocate
}

var (
	_ ports.Storage   = (*Storage)(nil)
	_ ports.TornWords = (*Storage)(nil)
)

// TornWords reports true: a word read by pread while another open file
// pwrites it can be torn (see LoadUint64 and the package documentation).
func (s *Storage) TornWords() bool { return true }

// Name returns the path of the file.
func (s *Storage) Name() string { return s.name }

// Writable reports whether the file is open read-write (a writer's).
func (s *Storage) Writable() bool { return s.writable }

// Size returns the file's length when it was opened (for a writer: the
// size it was created with). It does not follow later changes; an access
// past the end of a file cut short since returns ports.ErrOutOfRange.
func (s *Storage) Size() int64 { return s.size }

// check returns the error for an access of n bytes at off, or nil.
func (s *Storage) check(off int64, n int) error {
	return layout.CheckAccess(s.closed, off, n, s.size, s.name)
}

// writeCheck is check for a write: a reader's storage refuses it.
func (s *Storage) writeCheck(off int64, n int) error {
	if !s.closed && !s.writable {
		return fmt.Errorf("%w: %s", ErrReadOnly, s.name)
	}
	return s.check(off, n)
}

// ReadAt reads len(p) bytes at off from the file. A part past Size is not
// read and gives ports.ErrOutOfRange, as does a file found shorter than
// Size (cut short by someone else).
func (s *Storage) ReadAt(p []byte, off int64) (int, error) {
	err := s.check(off, len(p))
	if err != nil && (s.closed || off < 0 || off > s.size) {
		return 0, err
	}
	want := min(int64(len(p)), s.size-off)
	if want == 0 {
		return 0, err
	}
	n, rerr := s.file.ReadAt(p[:want], off)
	if int64(n) < want {
		return n, s.shortRead(n, want, off, rerr)
	}
	return n, err
}

// shortRead builds the error of a read that got n of want bytes at off.
func (s *Storage) shortRead(n int, want, off int64, err error) error {
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %s ends at %d, before its size at open, %d (cut short?)", ports.ErrOutOfRange, s.name, off+int64(n), s.size)
	}
	return fmt.Errorf("kekbit: file: reading %d bytes at offset %d of %s: %w", want, off, s.name, err)
}

// WriteAt writes p at off in the file. It returns ErrReadOnly on a reader's
// storage and writes nothing past Size (ports.ErrOutOfRange).
func (s *Storage) WriteAt(p []byte, off int64) (int, error) {
	if err := s.writeCheck(off, len(p)); err != nil {
		return 0, err
	}
	n, err := s.file.WriteAt(p, off)
	if err != nil {
		return n, fmt.Errorf("kekbit: file: writing %d bytes at offset %d of %s: %w", len(p), off, s.name, err)
	}
	return n, nil
}

// wordCheck returns the error for a word access at off, or nil.
func (s *Storage) wordCheck(off int64) error {
	if err := s.check(off, 8); err != nil {
		return err
	}
	if off%8 != 0 {
		return fmt.Errorf("%w: offset %d (%s)", ports.ErrUnalignedOffset, off, s.name)
	}
	return nil
}

// LoadUint64 reads the little-endian word at off with 8-byte ReadAts
// until two in a row agree: a read that raced another open file's write
// of the word can see some of its old bytes and some of its new (seen on
// Linux: a watermark turning into a length word of 42 read as 17), and
// the next read, after the write's first byte, differs (ErrWordUnsteady
// if no two of 64 agree). See the package
// documentation for what another process's reader can rely on.
func (s *Storage) LoadUint64(off int64) (uint64, error) {
	if err := s.wordCheck(off); err != nil {
		return 0, err
	}
	v, err := s.readWord(off)
	for range maxWordReads - 1 {
		if err != nil {
			return 0, err
		}
		var again uint64
		if again, err = s.readWord(off); err == nil && again == v {
			return v, nil
		}
		v = again
	}
	if err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%w: offset %d, %d reads", ErrWordUnsteady, off, maxWordReads)
}

// maxWordReads bounds LoadUint64's reads of one word: a writer changes a
// word at most twice (the watermark into a length word or the close
// mark), so a few reads settle any race with it.
const maxWordReads = 64

// readWord is one 8-byte ReadAt of the word at off.
func (s *Storage) readWord(off int64) (uint64, error) {
	n, err := s.file.ReadAt(s.word[:], off)
	if n < len(s.word) {
		return 0, s.shortRead(n, int64(len(s.word)), off, err)
	}
	return binary.LittleEndian.Uint64(s.word[:]), nil
}

// StoreUint64 writes v as a little-endian word at off with one 8-byte
// WriteAt. It returns ErrReadOnly on a reader's storage.
func (s *Storage) StoreUint64(off int64, v uint64) error {
	if err := s.writeCheck(off, 8); err != nil {
		return err
	}
	if err := s.wordCheck(off); err != nil {
		return err
	}
	binary.LittleEndian.PutUint64(s.word[:], v)
	if _, err := s.file.WriteAt(s.word[:], off); err != nil {
		return fmt.Errorf("kekbit: file: storing the word at offset %d of %s: %w", off, s.name, err)
	}
	return nil
}

// Flush commits the file to stable storage (File.Sync: fsync on OsFs). On
// a reader's storage it does nothing.
func (s *Storage) Flush() error {
	switch {
	case s.closed:
		return ports.ErrStorageClosed
	case !s.writable:
		return nil
	}
	return s.failed("flushing", s.file.Sync())
}

// Close closes the file, which releases a writer's lock. It does not
// flush. A second Close returns nil.
func (s *Storage) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	return s.failed("closing", s.file.Close())
}

// failed returns err, if not nil, as the failure of doing what to the file.
func (s *Storage) failed(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("kekbit: file: %s %s: %w", what, s.name, err)
}
