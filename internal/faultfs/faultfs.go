// Package faultfs injects I/O errors, for tests: an [afero.Fs] (and the
// files it opens) and a [ports.Storage] (and the [ports.Volume] that hands
// it out) that fail the Nth operation, once or from then on. The idea is
// pebble's vfs/errorfs: a wrapper around the real thing and an [Injector]
// that counts operations and decides which fail.
//
// A typical test first runs its scenario with an injector that never fails
// (New(0, Once)) to count the operations, then once for every N from 1 to
// that count:
//
//	inj := faultfs.New(n, faultfs.Once)
//	vol := file.NewVolume(faultfs.Wrap(afero.NewMemMapFs(), inj), "/root")
//	... // every error must match faultfs.ErrInjected
//
// An injected error is an [*Error]; errors.Is(err, ErrInjected) matches it,
// and so does errors.Is(err, e) for the error e it was made with (see
// [Injector.WithError]), such as syscall.ENOSPC.
package faultfs

import (
	"errors"
	"fmt"
	"sync"
)

// ErrInjected is matched by every error an [Injector] injects.
var ErrInjected = errors.New("faultfs: injected error")

// Op names an operation that can fail: a method of afero.Fs, of afero.File
// (prefixed "File.") or of ports.Storage (prefixed "Storage.").
type Op string

// The operations of an afero.Fs.
const (
	OpCreate    Op = "Create"
	OpMkdir     Op = "Mkdir"
	OpMkdirAll  Op = "MkdirAll"
	OpOpen      Op = "Open"
	OpOpenFile  Op = "OpenFile"
	OpRemove    Op = "Remove"
	OpRemoveAll Op = "RemoveAll"
	OpRename    Op = "Rename"
	OpStat      Op = "Stat"
	OpChmod     Op = "Chmod"
	OpChown     Op = "Chown"
	OpChtimes   Op = "Chtimes"
)

// The operations of an afero.File.
const (
	OpFileClose        Op = "File.Close"
	OpFileRead         Op = "File.Read"
	OpFileReadAt       Op = "File.ReadAt"
	OpFileSeek         Op = "File.Seek"
	OpFileWrite        Op = "File.Write"
	OpFileWriteAt      Op = "File.WriteAt"
	OpFileWriteString  Op = "File.WriteString"
	OpFileReaddir      Op = "File.Readdir"
	OpFileReaddirnames Op = "File.Readdirnames"
	OpFileStat         Op = "File.Stat"
	OpFileSync         Op = "File.Sync"
	OpFileTruncate     Op = "File.Truncate"
)

// The operations of a ports.Storage. Size cannot fail and is not one.
const (
	OpStorageReadAt      Op = "Storage.ReadAt"
	OpStorageWriteAt     Op = "Storage.WriteAt"
	OpStorageLoadUint64  Op = "Storage.LoadUint64"
	OpStorageStoreUint64 Op = "Storage.StoreUint64"
	OpStorageFlush       Op = "Storage.Flush"
	OpStorageClose       Op = "Storage.Close"
)

// Mode says which operations an [Injector] fails.
type Mode int

const (
	// Once fails the Nth operation only.
	Once Mode = iota + 1
	// FromThenOn fails the Nth operation and every one after it.
	FromThenOn
)

func (m Mode) String() string {
	switch m {
	case Once:
		return "once"
	case FromThenOn:
		return "from-then-on"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Error is an injected error: operation number N (counted from 1), Op on
// Path, failed with Err. errors.Is matches it with ErrInjected and with Err.
type Error struct {
	N    int
	Op   Op
	Path string
	Err  error
}

func (e *Error) Error() string {
	if e.Err == ErrInjected {
		return fmt.Sprintf("faultfs: injected error in operation %d, %s %s", e.N, e.Op, e.Path)
	}
	return fmt.Sprintf("faultfs: injected error in operation %d, %s %s: %v", e.N, e.Op, e.Path, e.Err)
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is ErrInjected.
func (e *Error) Is(target error) bool { return target == ErrInjected }

// Call is one operation an [Injector] counted.
type Call struct {
	N      int
	Op     Op
	Path   string
	Failed bool
}

func (c Call) String() string {
	s := fmt.Sprintf("%d %s %s", c.N, c.Op, c.Path)
	if c.Failed {
		s += " (failed)"
	}
	return s
}

// Injector counts the operations of the wrappers that share it and fails
// the Nth. It is safe for concurrent use.
type Injector struct {
	n     int
	mode  Mode
	err   error
	match func(Op, string) bool

	mu       sync.Mutex
	stopped  bool
	calls    []Call
	injected []*Error
}

// New returns an injector that fails operation n (counted from 1) in mode
// once or from then on. With n <= 0 it fails nothing: it only counts.
func New(n int, mode Mode) *Injector {
	return &Injector{n: n, mode: mode, err: ErrInjected}
}

// WithError makes the injector fail operations with err (wrapped in an
// *Error) instead of ErrInjected. Call it before the injector is used.
func (i *Injector) WithError(err error) *Injector {
	i.err = err
	return i
}

// Only makes the injector count, and fail, only the operations for which
// match returns true; the others pass untouched. Call it before the
// injector is used.
func (i *Injector) Only(match func(op Op, path string) bool) *Injector {
	i.match = match
	return i
}

// MaybeError counts operation op on path and returns the error to fail it
// with, or nil. The wrappers call it before each operation.
func (i *Injector) MaybeError(op Op, path string) error {
	if i.match != nil && !i.match(op, path) {
		return nil
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	n := len(i.calls) + 1
	fail := !i.stopped && i.n > 0 && (n == i.n || i.mode == FromThenOn && n > i.n)
	i.calls = append(i.calls, Call{N: n, Op: op, Path: path, Failed: fail})
	if !fail {
		return nil
	}
	e := &Error{N: n, Op: op, Path: path, Err: i.err}
	i.injected = append(i.injected, e)
	return e
}

// Stop makes the injector fail nothing more. It goes on counting.
func (i *Injector) Stop() {
	i.mu.Lock()
	i.stopped = true
	i.mu.Unlock()
}

// Count returns the number of operations counted so far.
func (i *Injector) Count() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return len(i.calls)
}

// Calls returns the operations counted so far, in order.
func (i *Injector) Calls() []Call {
	i.mu.Lock()
	defer i.mu.Unlock()
	return append([]Call(nil), i.calls...)
}

// Injected returns the errors injected so far, in order.
func (i *Injector) Injected() []*Error {
	i.mu.Lock()
	defer i.mu.Unlock()
	return append([]*Error(nil), i.injected...)
}

// Find returns every injected *Error in err's tree (errors wrapped with %w,
// joined by errors.Join or combined by go.uber.org/multierr), in the order
// a depth-first walk meets them.
func Find(err error) []*Error {
	var found []*Error
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case nil:
		case *Error:
			found = append(found, e)
		case interface{ Unwrap() []error }:
			for _, err := range e.Unwrap() {
				walk(err)
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		}
	}
	walk(err)
	return found
}
