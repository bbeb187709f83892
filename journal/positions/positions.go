package positions

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"
	"sync"

	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/journal"
)

// magic is the first word of a stored position: the bytes "KEKBPOS1".
const magic uint64 = 0x3153_4F50_424B_454B

// recordLen is the length of a stored position in a file.
const recordLen = 40

// invalid in the position word means "being replaced": no position.
const invalid = ^uint64(0)

// ErrBadName is returned for a reader name that is not 1 to 100 bytes of
// letters, digits, '.', '_' and '-', or that starts with '.'.
var ErrBadName = errors.New("kekbit: positions: bad reader name")

func checkName(name string) error {
	if len(name) == 0 || len(name) > 100 || name[0] == '.' {
		return fmt.Errorf("%w: %q", ErrBadName, name)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._-", c)) {
			return fmt.Errorf("%w: %q", ErrBadName, name)
		}
	}
	return nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// encode writes m as a stored position into b (recordLen bytes).
func encode(b []byte, m journal.Mark) {
	le := binary.LittleEndian
	le.PutUint64(b[0:], magic)
	copy(b[8:24], m.Journal[:])
	le.PutUint64(b[24:], uint64(m.Position))
	le.PutUint32(b[32:], crc32.Checksum(b[:32], castagnoli))
	le.PutUint32(b[36:], 0)
}

// decode reads a stored position from b; crc says whether to check the
// CRC (a file's record has one, a mapped one does not).
func decode(b []byte, crc bool) (journal.Mark, bool, error) {
	le := binary.LittleEndian
	if len(b) < 32 || le.Uint64(b) != magic {
		return journal.Mark{}, false, fmt.Errorf("%w: no magic", journal.ErrBadPosition)
	}
	if crc && (len(b) < recordLen || le.Uint32(b[32:]) != crc32.Checksum(b[:32], castagnoli) || le.Uint32(b[36:]) != 0) {
		return journal.Mark{}, false, fmt.Errorf("%w: CRC32C mismatch", journal.ErrBadPosition)
	}
	var m journal.Mark
	copy(m.Journal[:], b[8:24])
	pos := le.Uint64(b[24:])
	if m.Journal == (domain.JournalID{}) || pos == invalid {
		return journal.Mark{}, false, nil
	}
	m.Position = journal.Position(pos)
	return m, true, nil
}

// Memory keeps positions in a map: for tests, and named readers that live
// only as long as the process. It is safe for concurrent use.
type Memory struct {
	mu    sync.Mutex
	marks map[string]journal.Mark
	open  map[string]bool
}

var _ journal.Positions = (*Memory)(nil)

// NewMemory returns an empty Memory.
func NewMemory() *Memory {
	return &Memory{marks: make(map[string]journal.Mark), open: make(map[string]bool)}
}

// Open returns reader name's cursor; journal.ErrReaderBusy while another
// is open.
func (p *Memory) Open(name string) (journal.Cursor, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.open[name] {
		return nil, fmt.Errorf("%w: %q", journal.ErrReaderBusy, name)
	}
	p.open[name] = true
	return &memoryCursor{p: p, name: name}, nil
}

// Names returns the readers with a stored position.
func (p *Memory) Names() ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	names := make([]string, 0, len(p.marks))
	for n := range p.marks {
		names = append(names, n)
	}
	slices.Sort(names)
	return names, nil
}

// Load returns reader name's stored position.
func (p *Memory) Load(name string) (journal.Mark, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m, ok := p.marks[name]
	return m, ok, nil
}

// Remove forgets reader name.
func (p *Memory) Remove(name string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.marks, name)
	return nil
}

type memoryCursor struct {
	p      *Memory
	name   string
	closed bool
}

func (c *memoryCursor) Load() (journal.Mark, bool, error) { return c.p.Load(c.name) }

func (c *memoryCursor) Store(m journal.Mark) error {
	if c.closed {
		return errClosed
	}
	c.p.mu.Lock()
	c.p.marks[c.name] = m
	c.p.mu.Unlock()
	return nil
}

func (c *memoryCursor) Flush() error { return nil }

func (c *memoryCursor) Close() error {
	if !c.closed {
		c.closed = true
		c.p.mu.Lock()
		delete(c.p.open, c.name)
		c.p.mu.Unlock()
	}
	return nil
}

// errClosed is returned by a cursor's Store after Close.
var errClosed = errors.New("kekbit: positions: cursor is closed")
