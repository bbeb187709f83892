package mmap

import (
	"encoding/binary"
	"fmt"
	"os"
	"runtime/debug"
	"sync/atomic"

	"go.uber.org/multierr"

	"github.com/kekbit-go/kekbit/internal/layout"
	"github.com/kekbit-go/kekbit/ports"
)

// Storage is one channel file mapped into memory. It implements
// ports.Storage and ports.Addressable. A writer's Storage maps the file
// read-write and holds the writer's lock on it until Close; a reader's maps
// it read-only. Like every ports.Storage it is used by one goroutine at a
// time.
type Storage struct {
	path     string
	file     layout.OSFile
	mapping  []byte   // what mmap returned; nil for an empty file
	words    []uint64 // the mapping as words
	size     int64
	writable bool
	closed   bool

	aheadStop chan struct{} // WithPretouchAhead: closing it stops the background populate
	aheadDone chan struct{} // closed when it stopped
}

// startAhead populates the mapping in the background (WithPretouchAhead).
func (s *Storage) startAhead() {
	s.aheadStop, s.aheadDone = make(chan struct{}), make(chan struct{})
	go func(b []byte) {
		defer close(s.aheadDone)
		populateAhead(b, s.aheadStop)
	}(s.mapping)
}

var (
	_ ports.Storage     = (*Storage)(nil)
	_ ports.Addressable = (*Storage)(nil)
	_ ports.FaultProne  = (*Storage)(nil)
	_ ports.Liveness    = (*Storage)(nil)
	_ ports.Pretoucher  = (*Storage)(nil)
	_ ports.Sizer       = (*Storage)(nil)
)

// newStorage maps the first size bytes of f. The storage owns f if it
// returns no error; its errors do not name the path.
func newStorage(path string, f layout.OSFile, size int64, writable bool) (*Storage, error) {
	m, err := mapFile(f.File, size, writable)
	if err != nil {
		return nil, fmt.Errorf("mapping %d bytes: %w", size, layout.StripPath(err))
	}
	return &Storage{path: path, file: f, mapping: m, words: wordsOf(m), size: size, writable: writable}, nil
}

// Path returns the path of the mapped file.
func (s *Storage) Path() string { return s.path }

// Writable reports whether the storage is mapped read-write (a writer's).
func (s *Storage) Writable() bool { return s.writable }

// Size returns the length of the mapping: as much of the file as its
// header needs (1024 + capacity + 32), or the file's length when it was
// mapped if that is less or the file has no valid header.
func (s *Storage) Size() int64 { return s.size }

// Bytes returns the mapped bytes; nil after Close. A reader's are
// read-only: writing to them faults.
func (s *Storage) Bytes() []byte {
	if s.closed {
		return nil
	}
	return s.mapping
}

// Words returns the mapped memory as native-endian words, the last one
// zero-padded when the size is not a multiple of 8; nil after Close.
func (s *Storage) Words() []uint64 {
	if s.closed {
		return nil
	}
	return s.words
}

// Faulted reports whether addr, the address of a memory fault, lies in the
// mapping: the file was cut short under it.
//
// Only a fault in a page wholly past the file's current end is one: a
// fault below it (a handler writing into a reader's read-only payload) is
// the caller's bug and is not reported as a cut file.
func (s *Storage) Faulted(addr uintptr) bool {
	if s.closed {
		return false
	}
	off, ok := offsetIn(s.mapping, addr)
	if !ok {
		return false
	}
	st, err := s.file.Stat()
	if err != nil {
		return true // the file cannot even be asked: take it as gone
	}
	page := int64(os.Getpagesize())
	return off >= (st.Size()+page-1)/page*page
}

// check returns the error for an access of n bytes at off, or nil.
func (s *Storage) check(off int64, n int) error {
	return layout.CheckAccess(s.closed, off, n, s.size, s.path)
}

// ReadAt copies from the mapping into p. A part past Size is not read and
// gives ErrOutOfRange.
func (s *Storage) ReadAt(p []byte, off int64) (n int, err error) {
	if err = s.check(off, len(p)); err != nil && (s.closed || off < 0 || off > s.size) {
		return 0, err
	}
	if ferr := s.guard(off, func() { n = copy(p, s.mapping[off:]) }); ferr != nil {
		return 0, ferr
	}
	return n, err
}

// WriteAt copies p into the mapping. It returns ErrReadOnly on a reader's
// storage and writes nothing past Size (ErrOutOfRange).
func (s *Storage) WriteAt(p []byte, off int64) (n int, err error) {
	if err := s.writeCheck(off, len(p)); err != nil {
		return 0, err
	}
	if err := s.guard(off, func() { n = copy(s.mapping[off:], p) }); err != nil {
		return 0, err
	}
	return n, nil
}

func (s *Storage) writeCheck(off int64, n int) error {
	if !s.closed && !s.writable {
		return fmt.Errorf("%w: %s", ErrReadOnly, s.path)
	}
	return s.check(off, n)
}

// wordIndex returns the index in Words of the aligned word at off.
func (s *Storage) wordIndex(off int64) (int64, error) {
	if err := s.check(off, 8); err != nil {
		return 0, err
	}
	if off%8 != 0 {
		return 0, fmt.Errorf("%w: offset %d (%s)", ports.ErrUnalignedOffset, off, s.path)
	}
	return off / 8, nil
}

// LoadUint64 atomically loads the little-endian word at off.
func (s *Storage) LoadUint64(off int64) (v uint64, err error) {
	i, err := s.wordIndex(off)
	if err != nil {
		return 0, err
	}
	if err := s.guard(off, func() { v = atomic.LoadUint64(&s.words[i]) }); err != nil {
		return 0, err
	}
	return toLE(v), nil
}

// StoreUint64 atomically stores v as a little-endian word at off. It
// returns ErrReadOnly on a reader's storage.
func (s *Storage) StoreUint64(off int64, v uint64) error {
	if err := s.writeCheck(off, 8); err != nil {
		return err
	}
	i, err := s.wordIndex(off)
	if err != nil {
		return err
	}
	return s.guard(off, func() { atomic.StoreUint64(&s.words[i], toLE(v)) })
}

// guard runs access, an access to the mapping at off, and turns a memory
// fault into an error wrapping ErrFault and ports.ErrOutOfRange. A fault
// happens when the file was cut short under the mapping: touching a page
// past the new end raises SIGBUS, which would otherwise crash the process.
func (s *Storage) guard(off int64, access func()) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		f, ok := r.(interface{ Addr() uintptr })
		if !ok || !s.Faulted(f.Addr()) {
			panic(r)
		}
		err = fmt.Errorf("%w: %w: address %#x, offset %d of %s", ports.ErrOutOfRange, ErrFault, f.Addr(), off, s.path)
	}()
	access()
	return nil
}

// toLE converts between a native word and a little-endian one (the same
// swap both ways).
func toLE(v uint64) uint64 {
	var b [8]byte
	binary.NativeEndian.PutUint64(b[:], v)
	return binary.LittleEndian.Uint64(b[:])
}

// Flush writes the mapping's dirty pages to the file and waits (msync
// MS_SYNC). On a reader's storage it does nothing.
func (s *Storage) Flush() error {
	if s.closed {
		return ports.ErrStorageClosed
	}
	if !s.writable {
		return nil
	}
	if err := syncMapping(s.mapping); err != nil {
		return fmt.Errorf("kekbit: mmap: flushing %s: %w", s.path, err)
	}
	if err := syncFile(s.file.File); err != nil {
		return fmt.Errorf("kekbit: mmap: flushing %s: %w", s.path, err)
	}
	return nil
}

// Close unmaps the file and closes it, which releases a writer's lock. It
// does not flush. The errors of both steps are combined; a second Close
// returns nil.
func (s *Storage) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.aheadStop != nil {
		// The populate goes first: nothing may touch the range once it is
		// unmapped (another mapping may take its place).
		close(s.aheadStop)
		<-s.aheadDone
	}
	var err error
	if uerr := unmap(s.mapping); uerr != nil {
		err = fmt.Errorf("kekbit: mmap: unmapping %s: %w", s.path, uerr)
	}
	if cerr := s.file.Close(); cerr != nil {
		err = multierr.Append(err, fmt.Errorf("kekbit: mmap: closing %s: %w", s.path, cerr))
	}
	s.mapping, s.words = nil, nil
	return err
}

// CurrentSize returns the mapped file's size now, which is less than Size
// if someone cut the file short since it was mapped.
func (s *Storage) CurrentSize() (int64, error) {
	if s.closed {
		return 0, ports.ErrStorageClosed
	}
	st, err := s.file.Stat()
	if err != nil {
		return 0, fmt.Errorf("kekbit: mmap: %w", err)
	}
	return st.Size(), nil
}

// Pretouch faults in every page of the mapping now, so that the writer's
// and readers' first touch of each page costs no page fault later (a fresh
// page of a tmpfs file costs microseconds to fault in). On a writer's
// storage it allocates the pages: do it before writing. Volume.Create does
// it when the volume was made WithPretouch.
func (s *Storage) Pretouch() error {
	if s.closed {
		return ports.ErrStorageClosed
	}
	if err := s.populate(); err != nil {
		return fmt.Errorf("kekbit: mmap: %s: %w", s.path, err)
	}
	return nil
}

// populate is Pretouch on an open storage, with an error that does not
// name the path.
func (s *Storage) populate() error {
	if err := populate(s.mapping, s.words, s.writable); err != nil {
		return fmt.Errorf("pretouching: %w", layout.StripPath(err))
	}
	return nil
}

// WriterAlive reports whether the channel's writer still holds the channel
// open: it probes the writer's lock, so it answers at once, across
// processes, and also after the writer crashed (the kernel drops the lock of
// a dead process). On a writer's own storage it returns true. A channel
// written by the Rust crate, whose writer takes no lock, always reports
// false.
func (s *Storage) WriterAlive() (bool, error) {
	if s.closed {
		return false, ports.ErrStorageClosed
	}
	if s.writable {
		return true, nil
	}
	alive, err := layout.WriterHolds(s.file)
	if err != nil {
		return false, fmt.Errorf("kekbit: mmap: probing the writer's lock on %s: %w", s.path, err)
	}
	return alive, nil
}
