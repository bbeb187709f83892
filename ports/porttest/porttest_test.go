package porttest_test

import (
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/ports"
	"github.com/kekbit-go/kekbit/ports/porttest"
)

// brokenEnv names the fault TestBrokenBackend's child process injects.
const brokenEnv = "PORTTEST_BROKEN"

// faults maps each fault a broken backend can have to what the suite must
// say about it.
var faults = map[string][]string{
	"unaligned words":         {"LoadUint64(4): error <nil>, want kekbit: offset is not 8-byte aligned", "StoreUint64(1): error <nil>"},
	"big-endian words":        {"StoreUint64 did not store little-endian words in place"},
	"partial write past end":  {"WriteAt(5 bytes, 97) wrote 3 bytes, want 0", "WriteAt outside the storage changed the storage"},
	"no error reading past":   {"ReadAt(8 bytes, size-5) = 5, <nil>"},
	"second close fails":      {"second Close() = porttest: closed twice, want nil"},
	"usable after close":      {"ReadAt after Close: error <nil>", "Flush after Close: error <nil>"},
	"create not exclusive":    {"second Create of an id: error <nil>", "of 8 concurrent Creates of one id succeeded, want 1"},
	"failed init leaves it":   {"Open after a failed Create: error <nil>", "List() after a failed Create = [0x6]"},
	"list unsorted":           {"List() = [0xffffffffffffffff"},
	"reader misses writes":    {"the reader does not see what the writer wrote after it opened"},
	"remove leaves it":        {"Open after Remove: error <nil>"},
	"open ignores init state": {"Open during init: error <nil>"},
}

// TestBrokenBackend runs the suite, in a child process, on backends with
// one fault each and checks that it fails saying what is wrong.
func TestBrokenBackend(t *testing.T) {
	if fault := os.Getenv(brokenEnv); fault != "" {
		porttest.Run(t, porttest.Harness{NewVolume: func(*testing.T) ports.Volume {
			return &brokenVolume{Volume: memory.NewVolume(), fault: fault}
		}})
		return
	}
	if testing.Short() {
		t.Skip("runs the test binary once per fault")
	}
	for fault, says := range faults {
		t.Run(strings.ReplaceAll(fault, " ", "_"), func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenBackend$", "-test.count=1")
			cmd.Env = append(os.Environ(), brokenEnv+"="+fault, "GORACE=atexit_sleep_ms=0")
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("the suite passed a backend whose fault is %q (%v):\n%s", fault, err, out)
			}
			for _, s := range says {
				if !strings.Contains(string(out), s) {
					t.Errorf("the suite did not say %q about %q:\n%s", s, fault, out)
				}
			}
		})
	}
}

// brokenVolume is a memory volume with one fault.
type brokenVolume struct {
	ports.Volume
	fault string
}

func (v *brokenVolume) wrap(st ports.Storage) ports.Storage {
	if st == nil {
		return nil
	}
	return &brokenStorage{Storage: st, fault: v.fault}
}

func (v *brokenVolume) Create(id uint64, size int64, init func(ports.Storage) error) (ports.Storage, error) {
	wrapped := func(st ports.Storage) error { return init(v.wrap(st)) }
	switch v.fault {
	case "create not exclusive":
		v.Volume.Remove(id)
	case "failed init leaves it":
		var initErr error
		st, err := v.Volume.Create(id, size, func(st ports.Storage) error { initErr = wrapped(st); return nil })
		if err != nil {
			return nil, err
		}
		if initErr != nil {
			return nil, initErr
		}
		return v.wrap(st), nil
	case "open ignores init state":
		var st ports.Storage
		if _, err := v.Volume.Create(id, size, func(s ports.Storage) error { st = s; return nil }); err != nil {
			return nil, err
		}
		if err := init(v.wrap(st)); err != nil {
			v.Volume.Remove(id)
			return nil, err
		}
		return v.wrap(st), nil
	}
	st, err := v.Volume.Create(id, size, wrapped)
	return v.wrap(st), err
}

func (v *brokenVolume) Open(id uint64) (ports.Storage, error) {
	st, err := v.Volume.Open(id)
	if err != nil {
		return nil, err
	}
	if v.fault == "reader misses writes" {
		// A snapshot instead of a view.
		return v.wrap(memory.FromImage(st.(*memory.Storage).Image())), nil
	}
	return v.wrap(st), nil
}

func (v *brokenVolume) Remove(id uint64) error {
	if v.fault == "remove leaves it" {
		if _, err := v.Volume.Open(id); err != nil {
			return err
		}
		return nil
	}
	return v.Volume.Remove(id)
}

func (v *brokenVolume) List() ([]uint64, error) {
	ids, err := v.Volume.List()
	if v.fault == "list unsorted" {
		slices.Reverse(ids)
	}
	return ids, err
}

// brokenStorage is a memory storage with one fault.
type brokenStorage struct {
	ports.Storage
	fault  string
	closed bool
}

func (s *brokenStorage) ReadAt(p []byte, off int64) (int, error) {
	n, err := s.Storage.ReadAt(p, off)
	switch {
	case s.fault == "no error reading past" && n > 0:
		return n, nil
	case s.fault == "usable after close" && s.closed:
		return 0, nil
	}
	return n, err
}

func (s *brokenStorage) WriteAt(p []byte, off int64) (int, error) {
	if s.fault == "partial write past end" && off >= 0 && off < s.Size() && off+int64(len(p)) > s.Size() {
		n, _ := s.Storage.WriteAt(p[:s.Size()-off], off)
		return n, ports.ErrOutOfRange
	}
	return s.Storage.WriteAt(p, off)
}

func (s *brokenStorage) LoadUint64(off int64) (uint64, error) {
	if s.fault == "unaligned words" && off%8 != 0 && off > 0 && off+8 <= s.Size() {
		var b [8]byte
		_, err := s.ReadAt(b[:], off)
		return binary.LittleEndian.Uint64(b[:]), err
	}
	return s.Storage.LoadUint64(off)
}

func (s *brokenStorage) StoreUint64(off int64, v uint64) error {
	switch {
	case s.fault == "unaligned words" && off%8 != 0 && off > 0 && off+8 <= s.Size():
		_, err := s.WriteAt(binary.LittleEndian.AppendUint64(nil, v), off)
		return err
	case s.fault == "big-endian words" && off >= 0 && off+8 <= s.Size() && off%8 == 0:
		_, err := s.WriteAt(binary.BigEndian.AppendUint64(nil, v), off)
		return err
	}
	return s.Storage.StoreUint64(off, v)
}

func (s *brokenStorage) Flush() error {
	if s.fault == "usable after close" && s.closed {
		return nil
	}
	return s.Storage.Flush()
}

func (s *brokenStorage) Close() error {
	if s.fault == "second close fails" && s.closed {
		return errors.New("porttest: closed twice")
	}
	s.closed = true
	return s.Storage.Close()
}
