package positions

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/afero"

	"github.com/kekbit-go/kekbit/journal"
)

// fileExt names a Files position.
const fileExt = ".pos"

// Files keeps each reader's position in its own file, dir/NAME.pos,
// through an afero.Fs (afero.NewOsFs() for the disk). Store replaces the
// file whole: it writes dir/NAME.pos.tmp, fsyncs it, renames it over the
// old one and fsyncs the folder (where the Fs can), so a crash leaves the
// old position or the new one. It does not tell whether another process
// has a reader's cursor open.
type Files struct {
	fs  afero.Fs
	dir string
}

var _ journal.Positions = (*Files)(nil)

// NewFiles returns the positions kept in dir of fsys; dir is made on the
// first Store.
func NewFiles(fsys afero.Fs, dir string) *Files { return &Files{fs: fsys, dir: dir} }

func (p *Files) path(name string) string { return filepath.Join(p.dir, name+fileExt) }

// Open returns reader name's cursor.
func (p *Files) Open(name string) (journal.Cursor, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	return &fileCursor{p: p, name: name}, nil
}

// Names returns the readers with a stored position.
func (p *Files) Names() ([]string, error) { return names(p.fs, p.dir, fileExt) }

// names lists the files of dir ending in ext, without it.
func names(fsys afero.Fs, dir, ext string) ([]string, error) {
	entries, err := afero.ReadDir(fsys, dir)
	if errors.Is(err, fs.ErrNotExist) {
		return []string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("kekbit: positions: listing %s: %w", dir, err)
	}
	out := []string{}
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ext); ok && !e.IsDir() && checkName(n) == nil {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Load returns reader name's stored position.
func (p *Files) Load(name string) (journal.Mark, bool, error) {
	if err := checkName(name); err != nil {
		return journal.Mark{}, false, err
	}
	b, err := afero.ReadFile(p.fs, p.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return journal.Mark{}, false, nil
	}
	if err != nil {
		return journal.Mark{}, false, fmt.Errorf("kekbit: positions: %w", err)
	}
	m, ok, err := decode(b, true)
	if err != nil {
		return m, ok, fmt.Errorf("%w (%s)", err, p.path(name))
	}
	return m, ok, nil
}

// Remove forgets reader name.
func (p *Files) Remove(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if err := p.fs.Remove(p.path(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("kekbit: positions: %w", err)
	}
	return nil
}

// store writes m as reader name's position, crash-safely.
func (p *Files) store(name string, m journal.Mark) error {
	if err := p.fs.MkdirAll(p.dir, 0o755); err != nil {
		return fmt.Errorf("kekbit: positions: %w", err)
	}
	var b [recordLen]byte
	encode(b[:], m)
	path := p.path(name)
	tmp := path + ".tmp"
	f, err := p.fs.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("kekbit: positions: %w", err)
	}
	_, err = f.Write(b[:])
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = p.fs.Rename(tmp, path)
	}
	if err != nil {
		p.fs.Remove(tmp)
		return fmt.Errorf("kekbit: positions: storing %s: %w", path, err)
	}
	if d, err := p.fs.Open(p.dir); err == nil {
		d.Sync() // the rename's durability; not every Fs can sync a folder
		d.Close()
	}
	return nil
}

type fileCursor struct {
	p      *Files
	name   string
	closed bool
}

func (c *fileCursor) Load() (journal.Mark, bool, error) { return c.p.Load(c.name) }

func (c *fileCursor) Store(m journal.Mark) error {
	if c.closed {
		return errClosed
	}
	return c.p.store(c.name, m)
}

func (c *fileCursor) Flush() error { return nil } // Store is durable already

func (c *fileCursor) Close() error { c.closed = true; return nil }
