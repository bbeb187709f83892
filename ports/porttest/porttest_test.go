package porttest_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
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
	// The base methods.
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

	// The optional abilities.
	"stale bytes view": {
		"Addressable: writer's Bytes() disagrees with ReadAt after the writer's WriteAt",
		"Addressable: reader's Bytes() disagrees with ReadAt after the writer's WriteAt",
	},
	"words view short": {"Addressable: writer's len(Words()) = 12 on a new channel, want ceil(Size()/8) = 13"},
	"words view apart": {
		"Addressable: writer's Words() disagrees with LoadUint64 after the writer's WriteAt",
		"Addressable: writer's Words() and Bytes() are not the same memory",
		"Addressable: reader's LoadUint64(8) = 0xffffffff11111119, <nil> after the writer stored 0xbadf00dcafed00d into its Words()[1]",
	},
	"size grows":          {"Sizer: writer's CurrentSize() = 108 after WriteAt, more than Size() = 100"},
	"size wrong when new": {"Sizer: reader's CurrentSize() = 0, <nil> on a new channel, want Size() = 100, nil"},
	"writer always alive": {
		"Liveness: reader's WriterAlive() = true after the writer's storage was closed, want false",
		"Liveness: reader's WriterAlive() = true on a reader opened after the writer's storage was closed, want false",
	},
	"writer never alive": {
		"Liveness: reader's WriterAlive() = false while the writer's storage is open, want true",
		"Liveness: writer's WriterAlive() = false on its own open storage, want true",
		"WriteOpener: a reader's WriterAlive() = false while the storage OpenForWrite returned is open",
	},
	"liveness cannot tell": {"Liveness: reader's WriterAlive() while the writer's storage is open: porttest: cannot tell"},
	"faulted everywhere":   {"FaultProne: writer's Faulted(the address of a fresh Go slice) = true on a new channel, want false"},
	"pretouch zeroes":      {"Pretoucher: writer's Pretouch after writes changed the storage"},
	"opens live channel": {
		"WriteOpener: OpenForWrite of a channel whose writer's storage is open: error <nil>, want kekbit: the channel's writer is alive",
		"WriteOpener: OpenForWrite while the storage of an earlier OpenForWrite is open: error <nil>",
	},
	"opens for reading": {"WriteOpener: WriteAt on the storage OpenForWrite returned = porttest: opened read-only"},
	"removes live channel": {
		"AbandonedRemover: RemoveAbandoned of a channel whose writer's storage is open: error <nil>, want kekbit: the channel's writer is alive",
	},
	"clears let-go channel": {
		"DeadCreatorClearer: ClearDeadCreator of a ready channel that its writer let go = true, <nil>; want false, nil",
	},
	"clears creator at work": {
		"DeadCreatorClearer: ClearDeadCreator of a channel being created: error <nil>, want kekbit: channel is still being created",
	},

	// The errors.
	"bare errors": {
		"ChannelError: Open of a missing channel: error \"kekbit: channel not found\" (*errors.errorString) is not a *ports.ChannelError",
		"ChannelError: OpenForWrite of a channel whose writer is alive: error",
	},
	"wrong channel in errors": {"ChannelError: Create of an existing channel: ChannelID 0xe0, want 0xe1"},
	"path twice in errors": {
		"ChannelError: Remove of a missing channel: the message names the channel's path mem:/0000000000000404 2 times, want once",
	},
}

// TestBrokenBackend runs the suite, in a child process, on backends with
// one fault each and checks that it fails saying what is wrong.
func TestBrokenBackend(t *testing.T) {
	if fault := os.Getenv(brokenEnv); fault != "" {
		porttest.Run(t, porttest.Harness{NewVolume: newBroken(fault)})
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

// TestReferenceBackend runs the suite on the backend the broken ones break,
// with no fault: it offers every ability and must pass every check, so that
// what fails on a broken one is its fault.
func TestReferenceBackend(t *testing.T) {
	porttest.Run(t, porttest.Harness{NewVolume: newBroken("")})
}

// TestHarness checks that the Harness fields excuse what they say and no
// more.
func TestHarness(t *testing.T) {
	t.Run("NoLiveness", func(t *testing.T) {
		porttest.Run(t, porttest.Harness{NewVolume: newBroken("liveness cannot tell"), NoLiveness: true})
	})
	t.Run("SkipChannelErrors", func(t *testing.T) {
		porttest.Run(t, porttest.Harness{NewVolume: newBroken("bare errors"), SkipChannelErrors: true})
	})
}

func newBroken(fault string) func(*testing.T) ports.Volume {
	return func(*testing.T) ports.Volume {
		return &brokenVolume{ref: newRefVolume(), fault: fault}
	}
}

// refVolume is a memory volume with every optional ability, done right: a
// writer's storage (from Create or OpenForWrite) holds its channel until it
// is closed, readers' storages tell whether a writer holds it, and errors
// are *ports.ChannelError.
type refVolume struct {
	mem      *memory.Volume
	mu       sync.Mutex
	channels map[uint64]*refChannel
}

// refChannel is what refVolume knows of a channel beyond its bytes.
type refChannel struct {
	writers int // the writers' storages open on it; guarded by refVolume.mu
}

var (
	_ ports.WriteOpener        = (*refVolume)(nil)
	_ ports.AbandonedRemover   = (*refVolume)(nil)
	_ ports.DeadCreatorClearer = (*refVolume)(nil)
	_ ports.Addressable        = (*refStorage)(nil)
	_ ports.Sizer              = (*refStorage)(nil)
	_ ports.Liveness           = (*refStorage)(nil)
	_ ports.FaultProne         = (*refStorage)(nil)
	_ ports.Pretoucher         = (*refStorage)(nil)
)

func newRefVolume() *refVolume {
	return &refVolume{mem: memory.NewVolume(), channels: make(map[uint64]*refChannel)}
}

// path is where the volume says channel id lives.
func path(id uint64) string { return fmt.Sprintf("mem:/%016x", id) }

// fail is the reference volume's error for op on channel id: the memory
// volume's *ports.ChannelError, given the path, or a new one.
func fail(op string, id uint64, err error) error {
	var ce *ports.ChannelError
	if errors.As(err, &ce) {
		err = ce.Err
	}
	return &ports.ChannelError{Op: op, ChannelID: id, Path: path(id), Err: err}
}

func (v *refVolume) Create(id uint64, size int64, init func(ports.Storage) error) (ports.Storage, error) {
	var st *refStorage
	_, err := v.mem.Create(id, size, func(mem ports.Storage) error {
		ch := &refChannel{writers: 1}
		v.mu.Lock()
		v.channels[id] = ch
		v.mu.Unlock()
		st = &refStorage{Storage: mem.(*memory.Storage), vol: v, ch: ch, writer: true}
		if err := init(st); err != nil {
			v.mu.Lock()
			delete(v.channels, id)
			v.mu.Unlock()
			return err
		}
		return nil
	})
	if err != nil {
		return nil, fail("create", id, err)
	}
	return st, nil
}

func (v *refVolume) Open(id uint64) (ports.Storage, error) {
	mem, err := v.mem.Open(id)
	if err != nil {
		return nil, fail("open", id, err)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return &refStorage{Storage: mem.(*memory.Storage), vol: v, ch: v.channels[id]}, nil
}

func (v *refVolume) OpenForWrite(id uint64) (ports.Storage, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	mem, err := v.mem.Open(id)
	if err != nil {
		return nil, fail("open for write", id, err)
	}
	ch := v.channels[id]
	if ch.writers > 0 {
		mem.Close()
		return nil, fail("open for write", id, ports.ErrWriterAlive)
	}
	ch.writers++
	return &refStorage{Storage: mem.(*memory.Storage), vol: v, ch: ch, writer: true}, nil
}

func (v *refVolume) Remove(id uint64) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.mem.Remove(id); err != nil {
		return fail("remove", id, err)
	}
	delete(v.channels, id)
	return nil
}

func (v *refVolume) RemoveAbandoned(id uint64) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	mem, err := v.mem.Open(id) // ErrChannelNotReady while its (live) creator is at work
	if err != nil {
		return fail("remove abandoned", id, err)
	}
	mem.Close()
	if v.channels[id].writers > 0 {
		return fail("remove abandoned", id, ports.ErrWriterAlive)
	}
	if err := v.mem.Remove(id); err != nil {
		return fail("remove abandoned", id, err)
	}
	delete(v.channels, id)
	return nil
}

// ClearDeadCreator removes nothing: the reference volume's creators are
// in this process and cannot die apart from it. A channel in its init is
// ErrChannelNotReady.
func (v *refVolume) ClearDeadCreator(id uint64) (bool, error) {
	mem, err := v.mem.Open(id)
	if errors.Is(err, ports.ErrChannelNotReady) {
		return false, fail("clear dead creator", id, err)
	}
	if err == nil {
		mem.Close()
	}
	return false, nil
}

func (v *refVolume) List() ([]uint64, error) { return v.mem.List() }

// refStorage is a memory storage (Addressable) with the other abilities.
type refStorage struct {
	*memory.Storage
	vol    *refVolume
	ch     *refChannel
	writer bool
	closed bool
}

func (s *refStorage) Close() error {
	if s.writer && !s.closed {
		s.vol.mu.Lock()
		s.ch.writers--
		s.vol.mu.Unlock()
	}
	s.closed = true
	return s.Storage.Close()
}

func (s *refStorage) CurrentSize() (int64, error) {
	if s.closed {
		return 0, ports.ErrStorageClosed
	}
	return s.Size(), nil
}

func (s *refStorage) WriterAlive() (bool, error) {
	if s.closed {
		return false, ports.ErrStorageClosed
	}
	s.vol.mu.Lock()
	defer s.vol.mu.Unlock()
	return s.ch.writers > 0, nil
}

// Faulted reports false: memory does not vanish.
func (s *refStorage) Faulted(uintptr) bool { return false }

func (s *refStorage) Pretouch() error {
	if s.closed {
		return ports.ErrStorageClosed
	}
	return nil
}

// brokenVolume is a reference volume with one fault.
type brokenVolume struct {
	ref   *refVolume
	fault string
}

func (v *brokenVolume) wrap(st ports.Storage) ports.Storage {
	if st == nil {
		return nil
	}
	return &brokenStorage{Storage: st, fault: v.fault}
}

// err applies the faults of the errors to err.
func (v *brokenVolume) err(err error) error {
	var ce *ports.ChannelError
	if !errors.As(err, &ce) {
		return err
	}
	broken := *ce
	switch v.fault {
	case "bare errors":
		return ce.Err
	case "wrong channel in errors":
		broken.ChannelID ^= 1
	case "path twice in errors":
		broken.Err = fmt.Errorf("%s: %w", ce.Path, ce.Err)
	default:
		return err
	}
	return &broken
}

func (v *brokenVolume) Create(id uint64, size int64, init func(ports.Storage) error) (ports.Storage, error) {
	wrapped := func(st ports.Storage) error { return init(v.wrap(st)) }
	switch v.fault {
	case "create not exclusive":
		v.ref.Remove(id)
	case "failed init leaves it":
		var initErr error
		st, err := v.ref.Create(id, size, func(st ports.Storage) error { initErr = wrapped(st); return nil })
		if err != nil {
			return nil, v.err(err)
		}
		if initErr != nil {
			return nil, initErr
		}
		return v.wrap(st), nil
	case "open ignores init state":
		var st ports.Storage
		if _, err := v.ref.Create(id, size, func(s ports.Storage) error { st = s; return nil }); err != nil {
			return nil, v.err(err)
		}
		if err := init(v.wrap(st)); err != nil {
			v.ref.Remove(id)
			return nil, err
		}
		return v.wrap(st), nil
	}
	st, err := v.ref.Create(id, size, wrapped)
	return v.wrap(st), v.err(err)
}

func (v *brokenVolume) Open(id uint64) (ports.Storage, error) {
	st, err := v.ref.Open(id)
	if err != nil {
		return nil, v.err(err)
	}
	if v.fault == "reader misses writes" {
		// A snapshot instead of a view.
		ref := st.(*refStorage)
		snap := *ref
		snap.Storage = memory.FromImage(ref.Image())
		return v.wrap(&snap), nil
	}
	return v.wrap(st), nil
}

func (v *brokenVolume) OpenForWrite(id uint64) (ports.Storage, error) {
	switch v.fault {
	case "opens live channel":
		st, err := v.ref.Open(id)
		if err != nil {
			return nil, v.err(err)
		}
		return v.wrap(st), nil
	case "opens for reading":
		st, err := v.ref.OpenForWrite(id)
		if err != nil {
			return nil, v.err(err)
		}
		return &readOnlyStorage{v.wrap(st)}, nil
	}
	st, err := v.ref.OpenForWrite(id)
	return v.wrap(st), v.err(err)
}

func (v *brokenVolume) Remove(id uint64) error {
	if v.fault == "remove leaves it" {
		if _, err := v.ref.Open(id); err != nil {
			return v.err(err)
		}
		return nil
	}
	return v.err(v.ref.Remove(id))
}

func (v *brokenVolume) RemoveAbandoned(id uint64) error {
	if v.fault == "removes live channel" {
		return v.err(v.ref.Remove(id))
	}
	return v.err(v.ref.RemoveAbandoned(id))
}

func (v *brokenVolume) ClearDeadCreator(id uint64) (bool, error) {
	switch v.fault {
	case "clears let-go channel": // as RemoveAbandoned does
		if err := v.ref.RemoveAbandoned(id); err == nil {
			return true, nil
		}
		return false, nil
	case "clears creator at work":
		return false, nil
	}
	removed, err := v.ref.ClearDeadCreator(id)
	return removed, v.err(err)
}

func (v *brokenVolume) List() ([]uint64, error) {
	ids, err := v.ref.List()
	if v.fault == "list unsorted" {
		slices.Reverse(ids)
	}
	return ids, err
}

// brokenStorage is a reference storage with one fault.
type brokenStorage struct {
	ports.Storage
	fault  string
	closed bool
	stale  []byte // "stale bytes view": Bytes as they were at the first call
	apart  []uint64
	sizes  int64 // the calls of CurrentSize so far
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

func (s *brokenStorage) Bytes() []byte {
	b := s.Storage.(ports.Addressable).Bytes()
	if s.fault == "stale bytes view" {
		if s.stale == nil {
			s.stale = slices.Clone(b)
		}
		return s.stale
	}
	return b
}

func (s *brokenStorage) Words() []uint64 {
	w := s.Storage.(ports.Addressable).Words()
	switch s.fault {
	case "words view short":
		return w[:len(w)-1]
	case "words view apart":
		// Words of memory of their own.
		if s.apart == nil {
			s.apart = slices.Clone(w)
		}
		return s.apart
	}
	return w
}

func (s *brokenStorage) CurrentSize() (int64, error) {
	n, err := s.Storage.(ports.Sizer).CurrentSize()
	switch s.fault {
	case "size grows":
		s.sizes++
		return n + 8*(s.sizes-1), err
	case "size wrong when new":
		return 0, err
	}
	return n, err
}

func (s *brokenStorage) WriterAlive() (bool, error) {
	alive, err := s.Storage.(ports.Liveness).WriterAlive()
	switch {
	case err != nil:
	case s.fault == "writer always alive":
		return true, nil
	case s.fault == "writer never alive":
		return false, nil
	case s.fault == "liveness cannot tell":
		return false, errors.New("porttest: cannot tell")
	}
	return alive, err
}

func (s *brokenStorage) Faulted(addr uintptr) bool {
	return s.fault == "faulted everywhere" || s.Storage.(ports.FaultProne).Faulted(addr)
}

func (s *brokenStorage) Pretouch() error {
	if s.fault == "pretouch zeroes" && !s.closed {
		if _, err := s.Storage.WriteAt(make([]byte, s.Size()), 0); err != nil {
			return err
		}
	}
	return s.Storage.(ports.Pretoucher).Pretouch()
}

// readOnlyStorage refuses to write.
type readOnlyStorage struct{ ports.Storage }

func (s *readOnlyStorage) WriteAt([]byte, int64) (int, error) {
	return 0, errors.New("porttest: opened read-only")
}

func (s *readOnlyStorage) StoreUint64(int64, uint64) error {
	return errors.New("porttest: opened read-only")
}
