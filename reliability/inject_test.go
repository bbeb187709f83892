//go:build linux

package reliability_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/afero"
	"go.uber.org/goleak"

	"github.com/kekbit-go/kekbit/adapters/file"
	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/internal/faultfs"
	"github.com/kekbit-go/kekbit/ports"
)

// TestInjectedFsErrors and TestInjectedStorageErrors run a scenario (create
// channel injectID, write injectPayloads with a heartbeat after every
// third and a flush halfway, close, open the channel again, read it all,
// close the reader) once to count its I/O operations, then again for every
// N from 1 to that count plus one, failing operation N once or from then
// on (internal/faultfs), and check each run:
//   - every error a call returns is an injected one (or, for the Open
//     after a failed create, ports.ErrChannelNotFound / NotReady), and the
//     first error injected reaches a caller: nothing is swallowed;
//   - the records read, under injection and again without it, are exactly
//     those whose Write returned nil, in order, intact (a prefix if the
//     reading under injection gave up); the read ends at the close mark,
//     or where the writer's Close failed, at the writer's end;
//   - a failed create leaves nothing (file, lock file, folder) but what
//     the injector kept it from removing, never a channel file without its
//     lock file, and a reopen says ErrChannelNotFound or, with the lock
//     file left, ErrChannelNotReady;
//   - no goroutine (goleak), file descriptor (/proc/self/fd) or mapping
//     (/proc/self/maps) outlives the run.
const injectID = 0x0000_0c4a_0000_0005

// injectPayloads are the records of the scenario: every padding, from 1
// byte to the largest the header allows (120 bytes on a 16 KiB channel).
var injectPayloads = func() [][]byte {
	var ps [][]byte
	for i, n := range []int{1, 7, 8, 9, 100, 120, 13, 64, 33} {
		ps = append(ps, tailPayload(i, n))
	}
	return ps
}()

func injectHeader() domain.Header {
	h, err := domain.NewHeader(domain.Hints{WriterID: 4, ChannelID: injectID, Capacity: domain.MinCapacity,
		MaxMsgLen: 120, Timeout: 1 << 40, TickUnit: domain.Nanos})
	if err != nil {
		panic(err)
	}
	return h
}

// injectRun is what one run of the scenario did.
type injectRun struct {
	created  bool
	written  [][]byte // the payloads whose Write returned nil, in order
	closeErr error    // what the writer's Close returned
	opened   bool
	read     []rec // what the reader got, under injection
	readEnd  error // ErrClosed or ErrNothingYet if the reading got there
	calls    []string
	errs     []error // every error a call returned, with the call in calls
}

func (r *injectRun) note(call string, err error) {
	if err != nil {
		r.calls = append(r.calls, call)
		r.errs = append(r.errs, err)
	}
}

// runScenario runs the scenario on vol. Errors do not stop it: a failed
// Write or Heartbeat is followed by the next one (a writer stays usable
// after an I/O error, nothing published), a failed Read is tried again,
// twice.
func runScenario(vol ports.Volume) injectRun {
	var r injectRun
	w, err := domain.Create(vol, injectHeader(), codecs.Raw{})
	r.note("Create", err)
	if err == nil {
		r.created = true
		for i, p := range injectPayloads {
			if _, err := w.Write(p); err != nil {
				r.note(fmt.Sprintf("Write #%d", i), err)
			} else {
				r.written = append(r.written, p)
			}
			if i%3 == 2 {
				_, err := w.Heartbeat()
				r.note(fmt.Sprintf("Heartbeat after #%d", i), err)
			}
			if i == len(injectPayloads)/2 {
				r.note("Flush", w.Flush())
			}
		}
		r.closeErr = w.Close()
		r.note("Writer.Close", r.closeErr)
	}
	rd, err := domain.Open(vol, injectID)
	r.note("Open", err)
	if err != nil {
		return r
	}
	r.opened = true
	for failures := 0; failures < 3; failures++ {
		_, err := rd.Read(func(record domain.Record) error {
			pos, p := record.Position, record.Payload
			r.read = append(r.read, rec{pos, bytes.Clone(p)})
			return nil
		}, 0)
		if errors.Is(err, domain.ErrClosed) || errors.Is(err, domain.ErrNothingYet) {
			r.readEnd = err
			break
		}
		r.note("Read", err)
	}
	r.note("Reader.Close", rd.Close())
	return r
}

// injectEnv is one backend for the scenario, built anew for every run.
type injectEnv struct {
	vol   ports.Volume // through the injector
	plain ports.Volume // the same channels, without it
	// osRoot is the volume's folder on the disk, "" for a backend in
	// memory: the run must leave no file descriptor and no mapping open.
	osRoot string
	// leftovers lists what is under the volume's root, by path: after a
	// failed create, only paths the injector refused to clean up may be
	// there.
	leftovers func() ([]string, error)
	// lockPath is the path of the channel's lock file, "" if it has none.
	lockPath string
}

// injectBackend builds an injectEnv with inj deciding the failures, under
// a root named name.
type injectBackend func(t *testing.T, inj *faultfs.Injector, name string) injectEnv

// fsLeftovers lists the paths under root in fsys.
func fsLeftovers(fsys afero.Fs, root string) func() ([]string, error) {
	return func() ([]string, error) {
		var paths []string
		err := afero.Walk(fsys, root, func(path string, _ fs.FileInfo, err error) error {
			if err != nil {
				return err
			}
			if path != root {
				paths = append(paths, path)
			}
			return nil
		})
		if errors.Is(err, fs.ErrNotExist) {
			err = nil
		}
		return paths, err
	}
}

// fsBackend is the file backend over fsys (made by mk for every run)
// wrapped in a faultfs.Fs: every file system and file operation can fail.
func fsBackend(mk func(t *testing.T, name string) (afero.Fs, string, string)) injectBackend {
	return func(t *testing.T, inj *faultfs.Injector, name string) injectEnv {
		fsys, root, osRoot := mk(t, name)
		return injectEnv{
			vol:       file.NewVolume(faultfs.Wrap(fsys, inj), root),
			plain:     file.NewVolume(fsys, root),
			osRoot:    osRoot,
			leftovers: fsLeftovers(fsys, root),
			lockPath:  mmap.LockPath(mmap.ChannelPath(root, injectID)),
		}
	}
}

// storageBackend is a backend whose Storages are wrapped in a
// faultfs.Storage: every storage operation can fail, and the domain takes
// the method path (the wrapper hides ports.Addressable).
func storageBackend(mk func(t *testing.T, name string) (ports.Volume, string, func() ([]string, error))) injectBackend {
	return func(t *testing.T, inj *faultfs.Injector, name string) injectEnv {
		vol, osRoot, leftovers := mk(t, name)
		e := injectEnv{vol: faultfs.WrapVolume(vol, inj), plain: vol, osRoot: osRoot, leftovers: leftovers}
		if osRoot != "" {
			e.lockPath = mmap.LockPath(mmap.ChannelPath(osRoot, injectID))
		}
		return e
	}
}

func TestInjectedFsErrors(t *testing.T) {
	t.Run("MemMapFs", func(t *testing.T) {
		injectEveryOp(t, fsBackend(func(_ *testing.T, name string) (afero.Fs, string, string) {
			return afero.NewMemMapFs(), "/kekbit/" + name, ""
		}))
	})
	t.Run("OsFs", func(t *testing.T) {
		dir := t.TempDir()
		injectEveryOp(t, fsBackend(func(_ *testing.T, name string) (afero.Fs, string, string) {
			root := filepath.Join(dir, name)
			return afero.NewOsFs(), root, root
		}))
	})
}

func TestInjectedStorageErrors(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		injectEveryOp(t, storageBackend(func(*testing.T, string) (ports.Volume, string, func() ([]string, error)) {
			vol := memory.NewVolume()
			return vol, "", func() ([]string, error) {
				if _, err := vol.Open(injectID); !errors.Is(err, ports.ErrChannelNotFound) {
					return []string{fmt.Sprintf("channel %#x (Open: %v)", injectID, err)}, nil
				}
				return nil, nil
			}
		}))
	})
	t.Run("mmap", func(t *testing.T) {
		dir := t.TempDir()
		injectEveryOp(t, storageBackend(func(_ *testing.T, name string) (ports.Volume, string, func() ([]string, error)) {
			root := filepath.Join(dir, name)
			return mmap.NewVolume(root), root, fsLeftovers(afero.NewOsFs(), root)
		}))
	})
}

// injectEveryOp counts the operations of the scenario on backend, then runs
// it again failing operation N, once and from then on, for every N from 1
// to one past the count (where nothing fails), and checks every run.
func injectEveryOp(t *testing.T, backend injectBackend) {
	counter := faultfs.New(0, faultfs.Once)
	clean := runScenario(backend(t, counter, "count").vol)
	if len(clean.errs) > 0 || !slices.EqualFunc(clean.written, injectPayloads, bytes.Equal) ||
		!errors.Is(clean.readEnd, domain.ErrClosed) || len(clean.read) != len(injectPayloads) {
		t.Fatalf("scenario without failures: errors %v from %q; wrote %d, read %d, ended %v",
			clean.errs, clean.calls, len(clean.written), len(clean.read), clean.readEnd)
	}
	total := counter.Count()
	ops := make(map[faultfs.Op]int)
	for _, c := range counter.Calls() {
		ops[c.Op]++
	}
	t.Logf("%d operations: %v", total, ops)

	failed := 0
	var sum injectStats
	for _, mode := range []faultfs.Mode{faultfs.Once, faultfs.FromThenOn} {
		for n := 1; n <= total+1; n++ {
			problems, stats := injectOnce(t, backend, mode, n)
			sum.add(stats)
			if len(problems) == 0 {
				continue
			}
			what := "nothing"
			if n <= total {
				what = counter.Calls()[n-1].String()
			}
			t.Errorf("failing %s operation %d (%s):\n\t%s", mode, n, what, strings.Join(problems, "\n\t"))
			if failed++; failed == 10 {
				t.Fatal("too many failures")
			}
		}
	}
	t.Logf("%d runs, %d faults injected; creates failed %d times, %d of them leaving a lock file "+
		"whose removal was refused; reopened: %d whole channels, %d with no close mark, %d not found, %d not ready",
		sum.runs, sum.injected, sum.createFailed, sum.lockLeft, sum.whole, sum.unclosed, sum.notFound, sum.notReady)
}

// injectStats counts what the runs of the scenario did.
type injectStats struct {
	runs, injected, createFailed, lockLeft int
	whole, unclosed, notFound, notReady    int // how the reopen went
}

func (s *injectStats) add(o injectStats) {
	s.runs += o.runs
	s.injected += o.injected
	s.createFailed += o.createFailed
	s.lockLeft += o.lockLeft
	s.whole += o.whole
	s.unclosed += o.unclosed
	s.notFound += o.notFound
	s.notReady += o.notReady
}

// injectOnce runs the scenario failing operation n in mode and returns
// what went wrong.
func injectOnce(t *testing.T, backend injectBackend, mode faultfs.Mode, n int) (problems []string, stats injectStats) {
	problem := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	goroutines := goleak.IgnoreCurrent()
	fds := openFDs(t)

	inj := faultfs.New(n, mode)
	env := backend(t, inj, fmt.Sprintf("%s-%d", mode, n))
	r := runScenario(env.vol)
	inj.Stop()
	injected := inj.Injected()
	stats.runs, stats.injected = 1, len(injected)

	// Every error is an injected one, but for Open on a channel whose
	// create failed: that is ports.ErrChannelNotFound, or NotReady while
	// a lock file the injector kept from being removed is there.
	for i, err := range r.errs {
		absent := r.calls[i] == "Open" && !r.created &&
			(errors.Is(err, ports.ErrChannelNotFound) || errors.Is(err, ports.ErrChannelNotReady))
		if !errors.Is(err, faultfs.ErrInjected) && !absent {
			problem("%s: %v: not an injected error", r.calls[i], err)
		}
	}
	// The first injected error (in mode Once the only one) reaches the
	// caller. Later ones, in mode FromThenOn, may be dropped by cleanup
	// code that already reports the first.
	if len(injected) > 0 && !slices.Contains(faultfs.Find(errors.Join(r.errs...)), injected[0]) {
		problem("the injected error %q reached no caller (errors returned: %q)", injected[0], r.errs)
	}
	if mode == faultfs.Once && len(injected) > 1 {
		problem("%d errors injected in mode once", len(injected))
	}
	if len(injected) == 0 && (len(r.errs) > 0 || len(r.written) != len(injectPayloads)) {
		problem("nothing injected, yet errors %v", r.errs)
	}

	// What the reader under injection got: records whose Write succeeded,
	// in order, all of them if it read to the close mark.
	if r.opened {
		checkRecords(problem, "read under injection", r.read, r.written, r.readEnd != nil)
		if errors.Is(r.readEnd, domain.ErrNothingYet) && r.closeErr == nil {
			problem("read under injection ended with %v, though the writer closed the channel", r.readEnd)
		}
		if mode == faultfs.Once && r.readEnd == nil {
			problem("read under injection did not get to the end after one failure")
		}
	}

	// What is left on the volume.
	left, err := env.leftovers()
	if err != nil {
		problem("listing the volume: %v", err)
	}
	lockLeft := env.lockPath != "" && slices.Contains(left, env.lockPath)
	if !r.created {
		stats.createFailed++
		if lockLeft {
			stats.lockLeft++
		}
	}
	if r.created && lockLeft {
		problem("lock file %s left by a create that succeeded", env.lockPath)
	}
	if !r.created {
		refused := make(map[string]bool)
		for _, e := range injected {
			refused[e.Path] = true
		}
		for _, p := range left {
			if !refused[p] {
				problem("failed create left %s behind", p)
			}
		}
		if env.lockPath != "" && len(left) > 0 && !lockLeft && slices.ContainsFunc(left, isChannelFile) {
			problem("failed create left a channel file without its lock file: %q", left)
		}
	}

	// Open again, without injection: the channel is all there, or there is
	// a typed error saying why not.
	problems = append(problems, reopen(env.plain, r, lockLeft, &stats)...)

	if env.osRoot != "" {
		// Only more is a leak: fewer can be a finalizer closing a file
		// that some earlier test dropped.
		if after := openFDs(t); after > fds {
			problem("%d file descriptors open before, %d after", fds, after)
		}
		if m := mappingsUnder(t, env.osRoot); len(m) > 0 {
			problem("mappings left: %q", m)
		}
	}
	if err := goleak.Find(goroutines); err != nil {
		problem("goroutines leaked: %v", err)
	}
	return problems, stats
}

// reopen opens the channel of run r on plain and checks what it holds.
func reopen(plain ports.Volume, r injectRun, lockLeft bool, stats *injectStats) (problems []string) {
	problem := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	rd, err := domain.Open(plain, injectID)
	switch {
	case errors.Is(err, ports.ErrChannelNotFound):
		stats.notFound++
	case errors.Is(err, ports.ErrChannelNotReady):
		stats.notReady++
	}
	switch {
	case !r.created && lockLeft:
		if !errors.Is(err, ports.ErrChannelNotReady) {
			problem("reopen, lock file left: %v, want ErrChannelNotReady", err)
		}
	case !r.created:
		if !errors.Is(err, ports.ErrChannelNotFound) {
			problem("reopen after a failed create: %v, want ErrChannelNotFound", err)
		}
	case err != nil:
		problem("reopen of a created channel: %v", err)
	}
	if err != nil {
		if rd != nil {
			problem("domain.Open returned a reader and %v", err)
		}
		return problems
	}
	if !r.created {
		problem("reopen of a channel whose create failed succeeded")
	}
	var got []rec
	_, err = rd.Read(func(record domain.Record) error {
		pos, p := record.Position, record.Payload
		got = append(got, rec{pos, bytes.Clone(p)})
		return nil
	}, 0)
	checkRecords(problem, "reopen", got, r.written, true)
	switch {
	case errors.Is(err, domain.ErrClosed):
		stats.whole++
	case errors.Is(err, domain.ErrNothingYet) && r.closeErr != nil:
		// The writer's Close failed before its close mark was stored.
		stats.unclosed++
	default:
		problem("reopen: read ended with %v (writer's Close: %v)", err, r.closeErr)
	}
	if err := rd.Close(); err != nil {
		problem("reopen: Close: %v", err)
	}
	return problems
}

// checkRecords checks that got holds the payloads of want, in order, at
// increasing positions: all of them if whole, else a prefix.
func checkRecords(problem func(string, ...any), what string, got []rec, want [][]byte, whole bool) {
	if len(got) > len(want) || whole && len(got) < len(want) {
		problem("%s: %d records, want %d", what, len(got), len(want))
	}
	for i, g := range got {
		switch {
		case i >= len(want):
			return
		case !bytes.Equal(g.payload, want[i]):
			problem("%s: record %d at position %d is %x, want %x", what, i, g.pos, g.payload, want[i])
			return
		case i > 0 && g.pos <= got[i-1].pos:
			problem("%s: record %d at position %d, not after %d", what, i, g.pos, got[i-1].pos)
			return
		}
	}
}

func isChannelFile(p string) bool { return strings.HasSuffix(p, mmap.ChannelExt) }

// openFDs returns the number of file descriptors this process has open.
func openFDs(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}

// mappingsUnder returns the lines of /proc/self/maps that map a file
// under root.
func mappingsUnder(t *testing.T, root string) []string {
	t.Helper()
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for l := range strings.Lines(string(maps)) {
		if strings.Contains(l, root+"/") {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	return lines
}
