package kekbit_test

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/kekbit-go/kekbit"
)

// TestDefaultRoot: kekbit under /dev/shm where that folder exists (Linux),
// else under os.TempDir() (macOS, FreeBSD), and always under os.TempDir()
// on Windows, even where a \dev\shm folder exists (Wine has one).
func TestDefaultRoot(t *testing.T) {
	want := filepath.Join(os.TempDir(), "kekbit")
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() && runtime.GOOS != "windows" {
		want = filepath.Join("/dev/shm", "kekbit")
	}
	if got := kekbit.DefaultRoot(); got != want {
		t.Fatalf("DefaultRoot() = %q, want %q", got, want)
	}
}
