// Package testdir gives tests a temporary folder that is removed when the
// test ends, as testing.T.TempDir does, on every system the tests run on,
// Wine included.
//
// Go's os.RemoveAll on Windows deletes with FileDispositionInformationEx,
// which Wine 8 (Debian 12's) does not implement: the call fails with
// "Invalid function" and testing.T.TempDir's cleanup fails the test. On
// Windows, [New] removes the folder file by file with os.Remove instead,
// which Wine runs; elsewhere it is testing.T.TempDir.
package testdir

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
)

// New returns a new, empty folder that is removed, with all it holds, when
// the test and its subtests end. A folder that cannot be removed then
// fails the test, naming what is left.
func New(t testing.TB) string {
	t.Helper()
	if runtime.GOOS != "windows" {
		return t.TempDir()
	}
	dir, err := os.MkdirTemp("", "kekbit-test-")
	if err != nil {
		t.Fatalf("testdir: %v", err)
	}
	t.Cleanup(func() {
		if err := removeAll(dir); err != nil {
			t.Errorf("testdir: removing %s: %v", dir, err)
		}
	})
	return dir
}

// removeAll removes dir and everything under it with os.Remove alone,
// deepest first.
func removeAll(dir string) error {
	var paths []string
	err := filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		paths = append(paths, path)
		return nil
	})
	if err != nil {
		return err
	}
	slices.Reverse(paths) // a folder comes before what it holds
	for _, p := range paths {
		if err := os.Remove(p); err != nil {
			return err
		}
	}
	return nil
}
