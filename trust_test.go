//go:build linux

package kekbit_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/kekbit-go/kekbit"
	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
)

// TestDefaultRootPerUser: DefaultRoot names a folder of this user's own,
// by user id, which ShmWriter makes 0700.
func TestDefaultRootPerUser(t *testing.T) {
	root := kekbit.DefaultRoot()
	if want := fmt.Sprintf("kekbit-%d", os.Geteuid()); filepath.Base(root) != want {
		t.Errorf("DefaultRoot() = %s, want a folder named %s", root, want)
	}
	mine := filepath.Join(t.TempDir(), "fresh")
	w, err := kekbit.ShmWriter(mine, trustHeader(t), codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if fi, err := os.Stat(mine); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("the root ShmWriter made: %v, %v; want mode 0700", fi.Mode(), err)
	}
}

func trustHeader(t *testing.T) kekbit.Header {
	t.Helper()
	h, err := kekbit.NewHeader(kekbit.Hints{ChannelID: 1, Capacity: 1 << 14, MaxMsgLen: 64, Timeout: 1000, TickUnit: kekbit.Millis})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// nobody is the user the helper process runs as.
const nobody = 65534

// asNobody runs TestTrustHelperProcess as the user nobody (setpriv), from
// a copy of this test binary that nobody can run, and returns its output
// and whether it succeeded.
func asNobody(t *testing.T, mode string) (string, bool) {
	t.Helper()
	dir, err := os.MkdirTemp("", "kekbit-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "kekbit.test")
	src, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("setpriv", "--reuid", fmt.Sprint(nobody), "--regid", fmt.Sprint(nobody), "--clear-groups",
		bin, "-test.run=^TestTrustHelperProcess$", "-test.v")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "KEKBIT_TRUST_HELPER="+mode)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("setpriv: %v\n%s", err, out)
	}
	return string(out), err == nil
}

// TestDefaultRootAsNobody runs ShmWriter on DefaultRoot as the user nobody:
// it makes nobody's root (/dev/shm/kekbit-65534) 0700 and owned by
// nobody; and when another user made that folder first, it refuses it,
// naming the folder and its owner, instead of writing there.
func TestDefaultRootAsNobody(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("running a process as another user needs the superuser")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("no setpriv here")
	}
	shm := "/dev/shm"
	if fi, err := os.Stat(shm); err != nil || !fi.IsDir() {
		shm = os.TempDir()
	}
	root := filepath.Join(shm, fmt.Sprintf("kekbit-%d", nobody))
	os.RemoveAll(root) // a test user's root, left by an earlier run
	t.Cleanup(func() { os.RemoveAll(root) })

	out, ok := asNobody(t, "write")
	if !ok {
		t.Fatalf("ShmWriter as nobody failed:\n%s", out)
	}
	fi, err := os.Stat(root)
	if err != nil {
		t.Fatalf("nobody's root: %v\n%s", err, out)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != nobody || fi.Mode().Perm() != 0o700 {
		t.Errorf("nobody's root: owner %d, mode %v; want %d, 0700", st.Uid, fi.Mode(), nobody)
	}
	// This process is another user to that root: it refuses it, unless
	// opted in.
	if _, err := kekbit.ShmReader(root, 1); !errors.Is(err, kekbit.ErrUntrusted) {
		t.Errorf("ShmReader of nobody's root as uid %d: %v, want ErrUntrusted", os.Geteuid(), err)
	}
	r, err := kekbit.Open(mmap.NewVolume(root, mmap.WithSharedRoot()), 1)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	r.Read(func(rec kekbit.Record) error { got = append(got, string(rec.Payload)); return nil }, 0)
	r.Close()
	if len(got) != 1 || got[0] != "from nobody" {
		t.Errorf("read %q from nobody's channel", got)
	}

	// Another user (uid 1000) made nobody's root first.
	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(root, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(root, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(root, 1000, 1000); err != nil {
		t.Fatal(err)
	}
	out, ok = asNobody(t, "write")
	if ok {
		t.Fatalf("ShmWriter as nobody wrote to a root another user made:\n%s", out)
	}
	for _, want := range []string{"not safe from other users", root + " ", "owner uid 1000"} {
		if !strings.Contains(out, want) {
			t.Errorf("nobody's error does not say %q:\n%s", want, out)
		}
	}
	if names, _ := os.ReadDir(root); len(names) != 0 {
		t.Errorf("nobody wrote %v into the planted root", names)
	}
}

// TestTrustHelperProcess is the process TestDefaultRootAsNobody runs as the
// user nobody: it writes a record to channel 1 of DefaultRoot.
func TestTrustHelperProcess(t *testing.T) {
	if os.Getenv("KEKBIT_TRUST_HELPER") == "" {
		t.Skip("run by TestDefaultRootAsNobody")
	}
	w, err := kekbit.ShmWriter(kekbit.DefaultRoot(), trustHeader(t), codecs.Raw{})
	if err != nil {
		t.Fatalf("uid %d: %v", os.Geteuid(), err)
	}
	if _, err := w.Write([]byte("from nobody")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}
