//go:build linux

package layout

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/ports"
)

// TestOpenMeetsAStalledLease: an open of a file on which a recycler holds
// its lease (TrySole) and does not give it up (a writer stopped in the
// middle of a rename) waits for leaseWaitFor, then is ErrChannelInUse
// naming the file, below a root and by a path outside any (before, an
// untyped EWOULDBLOCK after 20,000 tries that took 23 s on a loaded
// machine); once the lease is given up the open succeeds.
func TestOpenMeetsAStalledLease(t *testing.T) {
	defer func(w time.Duration) { leaseWaitFor = w }(leaseWaitFor)
	leaseWaitFor = 100 * time.Millisecond
	root := t.TempDir()
	o := OSFS{Root: root}
	name := filepath.Join(root, "0000_0001.kekbit")
	if err := os.WriteFile(name, make([]byte, 4096), FileMode); err != nil {
		t.Fatal(err)
	}
	holder, err := OpenOSFile(name, true)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	release, err := holder.TrySole()
	if err != nil {
		t.Fatal(err)
	}
	for _, open := range []struct {
		how  string
		open func() (OSFile, error)
	}{
		{"below the root", func() (OSFile, error) { return o.OpenFile(name, false) }},
		{"by path", func() (OSFile, error) { return OpenOSFile(name, false) }},
	} {
		began := time.Now()
		f, err := open.open()
		if err == nil {
			f.Close()
			t.Fatalf("%s: opened a file under a lease", open.how)
		}
		if !errors.Is(err, ports.ErrChannelInUse) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v, want ErrChannelInUse naming %s", open.how, err, name)
		}
		if waited := time.Since(began); waited < leaseWaitFor {
			t.Errorf("%s: gave up after %v, before the %v it waits", open.how, waited, leaseWaitFor)
		}
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	f, err := o.OpenFile(name, false)
	if err != nil {
		t.Fatalf("after the lease was given up: %v", err)
	}
	f.Close()
}
