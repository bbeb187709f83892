//go:build linux

package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/kekbit-go/kekbit/internal/spin"
)

// baselineRuns: the library-free baseline runs here.
const baselineRuns = true

// The baseline is the same workload without the library: a file mapped
// with x/sys/unix, records framed the same way (an 8-byte length word, the
// payload padded to 8), the length published with atomic.StoreUint64 and
// polled with atomic.LoadUint64, pages pre-faulted. It is the floor the
// library's overhead is measured against.
//
// This file is the bench package's only use of unsafe: it views the
// page-aligned mapping as 64-bit words for sync/atomic.

func basePath(dir string) string { return filepath.Join(dir, "baseline.dat") }

func words(b []byte) []uint64 {
	return unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/8)
}

func baseSize(j job) int { return int(j.Capacity) + 16 }

func (j job) baseWriter(in io.Reader, out io.Writer) (report, error) {
	var r report
	f, err := os.OpenFile(basePath(j.Dir), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return r, err
	}
	defer f.Close()
	size := baseSize(j)
	if err := unix.Fallocate(int(f.Fd()), 0, 0, int64(size)); err != nil {
		return r, os.NewSyscallError("fallocate", err)
	}
	m, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return r, os.NewSyscallError("mmap", err)
	}
	defer unix.Munmap(m)
	if err := unix.Madvise(m, unix.MADV_POPULATE_WRITE); err != nil {
		return r, os.NewSyscallError("madvise", err)
	}
	say(out, sigReady)
	if err := waitGo(in); err != nil {
		return r, err
	}
	w := words(m)
	rec := (8 + j.Size + 7) &^ 7
	buf := make([]byte, j.Size)
	r.Start = time.Now().UnixNano()
	for i, off := 0, 0; i < j.N; i, off = i+1, off+rec {
		binary.LittleEndian.PutUint64(buf, uint64(i))
		copy(m[off+8:off+8+j.Size], buf)
		atomic.StoreUint64(&w[off/8], uint64(j.Size))
	}
	r.End, r.Records = time.Now().UnixNano(), j.N
	return r, nil
}

func (j job) baseReader(ctx context.Context, out io.Writer) (report, error) {
	var r report
	say(out, sigWaiting)
	size := baseSize(j)
	var f *os.File
	for {
		var err error
		f, err = os.Open(basePath(j.Dir))
		if err == nil {
			if st, err := f.Stat(); err == nil && st.Size() == int64(size) {
				break
			}
			f.Close()
		} else if !errors.Is(err, fs.ErrNotExist) {
			return r, err
		}
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
		time.Sleep(100 * time.Microsecond)
	}
	defer f.Close()
	m, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return r, os.NewSyscallError("mmap", err)
	}
	defer unix.Munmap(m)
	if err := unix.Madvise(m, unix.MADV_POPULATE_READ); err != nil {
		return r, os.NewSyscallError("madvise", err)
	}
	say(out, sigReady)
	w := words(m)
	rec := (8 + j.Size + 7) &^ 7
	pause := spin.Rounds(j.Pause)
	for off := 0; r.Records < j.N; off += rec {
		spins := 0
		for atomic.LoadUint64(&w[off/8]) == 0 {
			if pause > 0 {
				spin.Loop(pause) // the pause between two looks
			}
			if spins++; spins&0xFFFF == 0 {
				if ctx.Err() != nil {
					return r, ctx.Err()
				}
				runtime.Gosched()
			}
		}
		p := m[off+8 : off+8+j.Size]
		if binary.LittleEndian.Uint64(p) != uint64(r.Records) {
			return r, fmt.Errorf("baseline record %d: sequence %d", r.Records, binary.LittleEndian.Uint64(p))
		}
		r.Records++
	}
	r.End = time.Now().UnixNano()
	return r, nil
}
