package positions

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/spf13/afero"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/journal"
	"github.com/kekbit-go/kekbit/ports"
)

// mappedExt names a Mapped position file.
const mappedExt = ".kpos"

// mappedSize is the size of a Mapped position file.
const mappedSize = 64

// Mapped keeps each reader's position in a mapped file, dir/NAME.kpos
// (made whole and linked into place; a cursor holds the mmap backend's
// writer's lock on it while open). The position
// is one 64-bit word: Store is one atomic store (the journal id, 16 bytes,
// is written only when it changes), visible to other processes at once and
// surviving the death of the process; Flush makes it durable against power
// loss. Linux only, like the mmap backend.
type Mapped struct{ dir string }

var _ journal.Positions = (*Mapped)(nil)

// NewMapped returns the positions kept in dir, made on the first Open.
func NewMapped(dir string) *Mapped { return &Mapped{dir: dir} }

func (p *Mapped) path(name string) string { return filepath.Join(p.dir, name+mappedExt) }

// Open returns reader name's cursor, making its file if needed. It holds
// the file's lock until Close: journal.ErrReaderBusy while another cursor,
// in any process, holds it.
func (p *Mapped) Open(name string) (journal.Cursor, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	path := p.path(name)
	for try := 0; ; try++ {
		st, err := mmap.OpenForWrite(path)
		if errors.Is(err, ports.ErrChannelNotFound) && try < 3 {
			if err := p.create(path); err != nil {
				return nil, err
			}
			continue
		}
		if errors.Is(err, ports.ErrWriterAlive) || errors.Is(err, ports.ErrChannelNotReady) {
			return nil, fmt.Errorf("%w: %q: %w", journal.ErrReaderBusy, name, err)
		}
		if err != nil {
			return nil, fmt.Errorf("kekbit: positions: %w", err)
		}
		c := &mappedCursor{st: st}
		if a, ok := ports.Storage(st).(ports.Addressable); ok && littleEndian && len(a.Words()) > 3 {
			c.word = &a.Words()[3] // file bytes 24..31
		}
		if m, ok, err := c.Load(); err != nil {
			st.Close()
			return nil, err
		} else if ok {
			c.id = m.Journal
		}
		return c, nil
	}
}

// create makes the position file at path, holding no position, unless it
// exists: written whole under a name of its own, then linked into place,
// so that no one ever sees it half made and a crash leaves at most a
// temporary file.
func (p *Mapped) create(path string) error {
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return fmt.Errorf("kekbit: positions: %w", err)
	}
	var b [mappedSize]byte
	binary.LittleEndian.PutUint64(b[0:], magic)
	binary.LittleEndian.PutUint64(b[24:], invalid)
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	err := os.WriteFile(tmp, b[:], 0o644)
	if err == nil {
		if err = os.Link(tmp, path); errors.Is(err, fs.ErrExist) {
			err = nil // made by another meanwhile
		}
	}
	os.Remove(tmp)
	if err != nil {
		return fmt.Errorf("kekbit: positions: making %s: %w", path, err)
	}
	return nil
}

// Names returns the readers with a position file.
func (p *Mapped) Names() ([]string, error) { return names(afero.NewOsFs(), p.dir, mappedExt) }

// Load returns reader name's stored position, read through its own
// read-only mapping, whoever holds the cursor.
func (p *Mapped) Load(name string) (journal.Mark, bool, error) {
	if err := checkName(name); err != nil {
		return journal.Mark{}, false, err
	}
	st, err := mmap.OpenFile(p.path(name))
	if errors.Is(err, ports.ErrChannelNotFound) {
		return journal.Mark{}, false, nil
	}
	if err != nil {
		return journal.Mark{}, false, fmt.Errorf("kekbit: positions: %w", err)
	}
	defer st.Close()
	return load(st)
}

// Remove deletes reader name's file.
func (p *Mapped) Remove(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	err := os.Remove(p.path(name))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("kekbit: positions: %w", err)
	}
	return nil
}

// load reads the position record of a mapped file.
func load(st ports.Storage) (journal.Mark, bool, error) {
	var b [32]byte
	if _, err := st.ReadAt(b[:24], 0); err != nil {
		return journal.Mark{}, false, fmt.Errorf("kekbit: positions: %w", err)
	}
	pos, err := st.LoadUint64(24)
	if err != nil {
		return journal.Mark{}, false, fmt.Errorf("kekbit: positions: %w", err)
	}
	binary.LittleEndian.PutUint64(b[24:], pos)
	if binary.LittleEndian.Uint64(b[:]) == 0 {
		return journal.Mark{}, false, nil // being made: its magic is not written yet
	}
	return decode(b[:], false)
}

type mappedCursor struct {
	st   ports.Storage
	word *uint64  // the position word, where the mapping offers it on a little-endian host
	id   [16]byte // the journal id in the file
}

func (c *mappedCursor) Load() (journal.Mark, bool, error) { return load(c.st) }

// Store stores m's position with one atomic store; a new journal id is
// written first, with the position word marked invalid meanwhile, so a
// crash in between leaves no position rather than a wrong one.
func (c *mappedCursor) Store(m journal.Mark) error {
	if m.Journal != c.id || c.word == nil {
		return c.storeSlow(m)
	}
	atomic.StoreUint64(c.word, uint64(m.Position))
	return nil
}

// storeSlow is Store through the storage's methods: a new journal id, a
// closed cursor, a big-endian host.
func (c *mappedCursor) storeSlow(m journal.Mark) error {
	if m.Journal != c.id {
		if err := c.st.StoreUint64(24, invalid); err != nil {
			return err
		}
		c.id = m.Journal
		if _, err := c.st.WriteAt(c.id[:], 8); err != nil {
			return err
		}
	}
	return c.st.StoreUint64(24, uint64(m.Position))
}

func (c *mappedCursor) Flush() error { return c.st.Flush() }

func (c *mappedCursor) Close() error {
	c.word = nil // the mapping goes with the storage
	return c.st.Close()
}

// littleEndian says whether this host stores words the way the file does.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1
