package testdir

import (
	"os"
	"path/filepath"
	"testing"
)

// TestRemoveAll: a tree of folders and files goes, deepest first, and the
// folder is gone afterwards.
func TestRemoveAll(t *testing.T) {
	dir, err := os.MkdirTemp("", "kekbit-testdir-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"x", "a/y", "a/b/z"} {
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(f)), []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := removeAll(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("Stat after removeAll: %v, want not exist", err)
	}
}

// TestNew: the folder exists and is empty during the test.
func TestNew(t *testing.T) {
	dir := New(t)
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 0 {
		t.Fatalf("ReadDir(New) = %v, %v; want an empty folder", entries, err)
	}
}
