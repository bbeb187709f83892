package kekbit_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/kekbit-go/kekbit"
)

// TestDefaultRoot: kekbit-UID (kekbit where there are no user ids) under
// /dev/shm where that folder exists (Linux), else under os.TempDir()
// (macOS, FreeBSD), and always under os.TempDir() on Windows, even where a
// \dev\shm folder exists (Wine has one).
func TestDefaultRoot(t *testing.T) {
	name := "kekbit"
	if uid := os.Geteuid(); uid >= 0 {
		name = fmt.Sprintf("kekbit-%d", uid)
	}
	want := filepath.Join(os.TempDir(), name)
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() && runtime.GOOS != "windows" {
		want = filepath.Join("/dev/shm", name)
	}
	if got := kekbit.DefaultRoot(); got != want {
		t.Fatalf("DefaultRoot() = %q, want %q", got, want)
	}
}
