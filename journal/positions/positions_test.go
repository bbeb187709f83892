package positions_test

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/spf13/afero"

	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/journal"
	"github.com/kekbit-go/kekbit/journal/positions"
)

func adapters(t *testing.T) map[string]journal.Positions {
	m := map[string]journal.Positions{
		"memory":      positions.NewMemory(),
		"files-memfs": positions.NewFiles(afero.NewMemMapFs(), "/readers"),
		"files-os":    positions.NewFiles(afero.NewOsFs(), filepath.Join(t.TempDir(), "readers")),
	}
	if runtime.GOOS == "linux" {
		m["mapped"] = positions.NewMapped(filepath.Join(t.TempDir(), "readers"))
	}
	return m
}

// TestConformance runs what every adapter must do.
func TestConformance(t *testing.T) {
	idA := domain.JournalID{1}
	idB := domain.JournalID{2}
	for name, p := range adapters(t) {
		t.Run(name, func(t *testing.T) {
			if names, err := p.Names(); err != nil || len(names) != 0 {
				t.Fatalf("empty: %v %v", names, err)
			}
			if _, ok, err := p.Load("billing"); ok || err != nil {
				t.Fatalf("Load of a name never stored: %v %v", ok, err)
			}
			c, err := p.Open("billing")
			if err != nil {
				t.Fatal(err)
			}
			if _, ok, err := c.Load(); ok || err != nil {
				t.Fatalf("fresh cursor: %v %v", ok, err)
			}
			for _, m := range []journal.Mark{
				{Journal: idA, Position: journal.MakePosition(0, 8)},
				{Journal: idA, Position: journal.MakePosition(7, 4096)},
				{Journal: idB, Position: journal.MakePosition(0, 0)}, // a new journal id, and position 0
			} {
				if err := c.Store(m); err != nil {
					t.Fatal(err)
				}
				for what, load := range map[string]func() (journal.Mark, bool, error){
					"cursor":    c.Load,
					"positions": func() (journal.Mark, bool, error) { return p.Load("billing") },
				} {
					got, ok, err := load()
					if err != nil || !ok || got != m {
						t.Fatalf("%s Load after Store(%+v): %+v %v %v", what, m, got, ok, err)
					}
				}
			}
			if err := c.Flush(); err != nil {
				t.Fatal(err)
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if err := c.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
			if err := c.Store(journal.Mark{Journal: idA}); err == nil {
				t.Fatal("Store after Close succeeded")
			}
			c2, err := p.Open("billing")
			if err != nil {
				t.Fatal(err)
			}
			if got, ok, _ := c2.Load(); !ok || got.Journal != idB {
				t.Fatalf("reopened cursor: %+v %v", got, ok)
			}
			c2.Close()
			if names, err := p.Names(); err != nil || len(names) != 1 || names[0] != "billing" {
				t.Fatalf("Names: %v %v", names, err)
			}
			for _, bad := range []string{"", ".hidden", "a/b", "x y", string(make([]byte, 101))} {
				if _, err := p.Open(bad); !errors.Is(err, positions.ErrBadName) {
					t.Fatalf("Open(%q): %v", bad, err)
				}
			}
			if err := p.Remove("billing"); err != nil {
				t.Fatal(err)
			}
			if _, ok, _ := p.Load("billing"); ok {
				t.Fatal("Load after Remove found a position")
			}
		})
	}
}

// TestBusy: adapters that can tell refuse a second cursor of one name.
func TestBusy(t *testing.T) {
	for name, p := range adapters(t) {
		if name == "files-memfs" || name == "files-os" {
			continue // Files does not tell (its documentation says so)
		}
		t.Run(name, func(t *testing.T) {
			c, err := p.Open("r")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Open("r"); !errors.Is(err, journal.ErrReaderBusy) {
				t.Fatalf("second Open: %v", err)
			}
			c.Close()
			c, err = p.Open("r")
			if err != nil {
				t.Fatalf("Open after Close: %v", err)
			}
			c.Close()
		})
	}
}

// TestFilesCrashSafety: a leftover temporary file (a crash inside Store)
// does not change the stored position, and a damaged file is refused.
func TestFilesCrashSafety(t *testing.T) {
	fs := afero.NewMemMapFs()
	p := positions.NewFiles(fs, "/r")
	c, _ := p.Open("a")
	m := journal.Mark{Journal: domain.JournalID{9}, Position: 42}
	if err := c.Store(m); err != nil {
		t.Fatal(err)
	}
	afero.WriteFile(fs, "/r/a.pos.tmp", []byte("half"), 0o644)
	if got, ok, err := p.Load("a"); err != nil || !ok || got != m {
		t.Fatalf("with a torn temporary file: %+v %v %v", got, ok, err)
	}
	b, _ := afero.ReadFile(fs, "/r/a.pos")
	b[30] ^= 1
	afero.WriteFile(fs, "/r/a.pos", b, 0o644)
	if _, _, err := p.Load("a"); !errors.Is(err, journal.ErrBadPosition) {
		t.Fatalf("damaged file: %v", err)
	}
	if names, _ := p.Names(); len(names) != 1 {
		t.Fatalf("Names counts the temporary file: %v", names)
	}
}

// TestMappedSurvivesTheProcess: a mapped position is in the file as soon
// as Store returns (another mapping sees it), with no Flush.
func TestMappedSurvivesTheProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the mmap backend runs on Linux only")
	}
	dir := t.TempDir()
	p := positions.NewMapped(dir)
	c, err := p.Open("x")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m := journal.Mark{Journal: domain.JournalID{3}, Position: journal.MakePosition(2, 16)}
	c.Store(m)
	m.Position = journal.MakePosition(2, 24)
	c.Store(m)
	b, err := os.ReadFile(filepath.Join(dir, "x.kpos"))
	if err != nil {
		t.Fatal(err)
	}
	if b[8] != 3 || b[24] != 24 || b[28] != 2 {
		t.Fatalf("file bytes % x", b[:32])
	}
}
