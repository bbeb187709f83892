package positions_test

import (
	"testing"

	"github.com/spf13/afero"

	"github.com/kekbit-go/kekbit/journal"
	"github.com/kekbit-go/kekbit/journal/positions"
)

// FuzzLoad: any bytes in a position file load without a panic, as a
// position or an error; a position that loads stores and loads back the
// same.
func FuzzLoad(f *testing.F) {
	fs := afero.NewMemMapFs()
	p := positions.NewFiles(fs, "/r")
	c, _ := p.Open("seed")
	c.Store(journal.Mark{Journal: [16]byte{1, 2, 3}, Position: journal.MakePosition(4, 8)})
	seed, _ := afero.ReadFile(fs, "/r/seed.pos")
	f.Add(seed)
	f.Add([]byte{})
	f.Add(make([]byte, 40))
	f.Fuzz(func(t *testing.T, b []byte) {
		fs := afero.NewMemMapFs()
		afero.WriteFile(fs, "/r/x.pos", b, 0o644)
		p := positions.NewFiles(fs, "/r")
		m, ok, err := p.Load("x")
		if err != nil || !ok {
			return
		}
		c, _ := p.Open("y")
		if err := c.Store(m); err != nil {
			t.Fatal(err)
		}
		back, ok, err := p.Load("y")
		if err != nil || !ok || back != m {
			t.Fatalf("stored %+v, loaded %+v %v %v", m, back, ok, err)
		}
	})
}
