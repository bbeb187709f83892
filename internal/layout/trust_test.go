//go:build unix

package layout_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/kekbit-go/kekbit/internal/layout"
)

// TestTrusted: a folder of this user or the superuser that only they can
// write is trusted; another user's, a group-writable one (unless shared)
// and one anyone can write without the sticky bit (shared or not) are not,
// and the error names the folder, its owner and its mode.
func TestTrusted(t *testing.T) {
	me := os.Geteuid()
	other := 65534
	if me == other {
		other = 1000
	}
	for _, c := range []struct {
		uid        int
		perm       uint32
		ok, shared bool // ok: trusted alone; shared: trusted with shared
	}{
		{me, 0o700, true, true},
		{me, 0o755, true, true},
		{0, 0o755, true, true},
		{0, 0o1777, true, true}, // /dev/shm itself
		{me, 0o775, false, true},
		{me, 0o2770, false, true},
		{me, 0o1770, true, true},
		{other, 0o755, false, true},
		{other, 0o700, false, true},
		{me, 0o777, false, false},
		{other, 0o777, false, false},
		{other, 0o1777, false, true},
	} {
		for _, shared := range []bool{false, true} {
			want := c.ok
			if shared {
				want = c.shared
			}
			err := layout.Trusted("/r/f", c.uid, c.perm, shared)
			if (err == nil) != want {
				t.Errorf("uid %d, mode %#o, shared %v: %v, want trusted %v", c.uid, c.perm, shared, err, want)
			}
			if err == nil {
				continue
			}
			if !errors.Is(err, layout.ErrUntrusted) || !strings.Contains(err.Error(), "/r/f") ||
				!strings.Contains(err.Error(), fmt.Sprintf("owner uid %d", c.uid)) || !strings.Contains(err.Error(), fmt.Sprintf("mode %#o", c.perm)) {
				t.Errorf("uid %d, mode %#o: %v, want ErrUntrusted naming the folder, owner and mode", c.uid, c.perm, err)
			}
		}
	}
}
