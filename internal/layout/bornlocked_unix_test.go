//go:build unix && !solaris

package layout

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/internal/testdir"
	"github.com/kekbit-go/kekbit/ports"
	"golang.org/x/sys/unix"
)

// bornLockedModes runs f with O_TMPFILE (where the system has it) and
// with the temporary name that stands in for it elsewhere.
func bornLockedModes(t *testing.T, f func(t *testing.T)) {
	for _, named := range []bool{false, true} {
		name := "unnamed"
		if named {
			name = "named"
		}
		t.Run(name, func(t *testing.T) {
			defer func(was bool) { noTmpfile = was }(noTmpfile)
			noTmpfile = named
			f(t)
		})
	}
}

// TestCreateLocked: a lock file born locked holds the creator's mark and
// its lock from the first moment; it is the only file it leaves; one
// that exists is refused and left as it is; closed, its creator is gone.
func TestCreateLocked(t *testing.T) {
	bornLockedModes(t, func(t *testing.T) {
		for _, root := range []bool{false, true} {
			dir := testdir.New(t)
			o := OSFS{}
			if root {
				o.Root = dir // openat below the root, never through a link
			}
			lockPath := filepath.Join(dir, "0000_0009.lock")
			lock, err := makeLockFile[OSFile](o, lockPath)
			if err != nil {
				t.Fatalf("root %v: makeLockFile: %v", root, err)
			}
			if got, err := os.ReadFile(lockPath); err != nil || string(got) != string(creatorMark) {
				t.Fatalf("the lock file holds %q, %v; want the creator's mark", got, err)
			}
			if err := creatorAlive[OSFile](o, lockPath); err != nil {
				t.Fatalf("creatorAlive of a live creator's lock file: %v, want nil", err)
			}
			if _, err := o.CreateLocked(lockPath, []byte("another")); !errors.Is(err, fs.ErrExist) {
				t.Fatalf("CreateLocked of a lock file that exists: %v, want fs.ErrExist", err)
			}
			if got, _ := os.ReadFile(lockPath); string(got) != string(creatorMark) {
				t.Fatalf("the lock file after a refused CreateLocked holds %q", got)
			}
			if ents, err := os.ReadDir(dir); err != nil || len(ents) != 1 {
				t.Fatalf("the folder holds %v (%v); want the lock file alone", ents, err)
			}
			if err := creatorAlive[OSFile](o, lockPath); err != nil {
				t.Fatalf("creatorAlive after a refused CreateLocked: %v, want nil", err)
			}
			lock.Close()
			if err := creatorAlive[OSFile](o, lockPath); !errors.Is(err, ErrCreatorGone) {
				t.Fatalf("creatorAlive once its creator let go: %v, want ErrCreatorGone", err)
			}
			if !markedAtBirth[OSFile](o, lockPath) {
				t.Fatal("markedAtBirth: false for a lock file born locked")
			}
		}
	})
}

// TestBornLockedNeverFree: while lock files are made and removed, each
// kept open by its creator, a reader that looks at them all along never
// finds one free. Made by CreateExclusive and then locked, as before, one
// is free for an instant, which a take-over took for a dead creator's.
func TestBornLockedNeverFree(t *testing.T) {
	bornLockedModes(t, func(t *testing.T) {
		dir := testdir.New(t)
		o := OSFS{Root: dir}
		lockPath := filepath.Join(dir, "0000_0009.lock")
		var free, seen atomic.Int64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				switch err := creatorAlive[OSFile](o, lockPath); {
				case errors.Is(err, ErrCreatorGone):
					free.Add(1)
				case err == nil:
					seen.Add(1)
				}
			}
		}()
		var held []OSFile
		deadline := time.Now().Add(300 * time.Millisecond)
		for time.Now().Before(deadline) || seen.Load() < 100 {
			lock, err := makeLockFile[OSFile](o, lockPath)
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, lock)
			// Removed while still held and open: never free at the path.
			if err := os.Remove(lockPath); err != nil {
				t.Fatal(err)
			}
			if time.Now().After(deadline.Add(5 * time.Second)) {
				break
			}
		}
		close(stop)
		wg.Wait()
		for _, l := range held {
			l.Close()
		}
		if n := free.Load(); n != 0 {
			t.Fatalf("a lock file was found free %d times in %d looks at live ones", n, seen.Load())
		}
		if seen.Load() < 100 {
			t.Fatalf("only %d looks found a live lock file: the test lost its point", seen.Load())
		}
	})
}

// TestTakeOverLooksOnce: a free lock file that holds the creator's mark
// was born locked: its creator is gone, and the take-over removes what it
// left after one look, with no wait. An empty one, which may be a live
// creator's between its create and its lock, is looked at again after
// takeOverWait.
func TestTakeOverLooksOnce(t *testing.T) {
	defer func(was func(time.Duration)) { sleep = was }(sleep)
	var slept []time.Duration
	sleep = func(d time.Duration) { slept = append(slept, d) }
	for _, mark := range [][]byte{creatorMark, nil} {
		slept = nil
		dir := testdir.New(t)
		path := filepath.Join(dir, "0000_0007.kekbit")
		if err := os.WriteFile(path, []byte("half made"), FileMode); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(LockPath(path), mark, FileMode); err != nil {
			t.Fatal(err)
		}
		if err := takeOver[OSFile](OSFS{}, path); err != nil {
			t.Fatalf("takeOver: %v", err)
		}
		for _, p := range []string{path, LockPath(path)} {
			if _, err := os.Stat(p); !os.IsNotExist(err) {
				t.Errorf("mark %q: %s after the take-over: %v, want it removed", mark, p, err)
			}
		}
		want := 1
		if mark != nil {
			want = 0
		}
		if len(slept) != want {
			t.Errorf("mark %q: the take-over waited %v; want %d waits", mark, slept, want)
		}
	}
}

// TestCreateLockedCannotLink: where the file system makes no hard links
// (vfat and exFAT say EPERM, others EOPNOTSUPP), the lock file is made by
// CreateExclusive and locked, and no temporary file stays behind; a link
// that fails for another cause fails the lock file's creation, leaves the
// folder empty, and names the lock file once.
func TestCreateLockedCannotLink(t *testing.T) {
	defer func(was func(int, string, int, string, int) error) { linkat = was }(linkat)
	bornLockedModes(t, func(t *testing.T) {
		for _, errno := range []unix.Errno{unix.EPERM, unix.EOPNOTSUPP, unix.EIO} {
			linkat = func(int, string, int, string, int) error { return errno }
			dir := testdir.New(t)
			o := OSFS{Root: dir}
			lockPath := filepath.Join(dir, "0000_0009.lock")
			lock, err := makeLockFile[OSFile](o, lockPath)
			ents, _ := os.ReadDir(dir)
			if errno == unix.EIO {
				if err == nil {
					lock.Close()
					t.Fatalf("%v: makeLockFile succeeded", errno)
				}
				if !errors.Is(err, unix.EIO) || strings.Count(err.Error(), lockPath) > 1 {
					t.Errorf("%v: makeLockFile: %v; want EIO, the path at most once", errno, err)
				}
				if len(ents) != 0 {
					t.Errorf("%v: the folder holds %v after a failed link", errno, ents)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%v: makeLockFile: %v, want CreateExclusive's lock file", errno, err)
			}
			if len(ents) != 1 || ents[0].Name() != "0000_0009.lock" {
				t.Errorf("%v: the folder holds %v; want the lock file alone", errno, ents)
			}
			if got, err := os.ReadFile(lockPath); err != nil || len(got) != 0 {
				t.Errorf("%v: the lock file holds %q, %v; want it empty (CreateExclusive's)", errno, got, err)
			}
			if err := creatorAlive[OSFile](o, lockPath); err != nil {
				t.Errorf("%v: creatorAlive: %v, want the lock held", errno, err)
			}
			lock.Close()
		}
	})
}

// TestCreateLockedTemporaryNameStays: once the lock file is linked at its
// name, a temporary name that cannot be removed is no failure: the lock
// file is in place, marked, and its lock held.
func TestCreateLockedTemporaryNameStays(t *testing.T) {
	defer func(was bool) { noTmpfile = was }(noTmpfile)
	defer func(was func(int, string, int) error) { unlinkat = was }(unlinkat)
	noTmpfile = true
	unlinkat = func(int, string, int) error { return unix.EIO }
	_, dir, _ := madeBornLocked(t)
	// The temporary name stays beside the lock file; once the channel is
	// ready (its file there, its lock file gone), listings ignore it.
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) != 2 || !strings.HasSuffix(ents[0].Name(), ".tmp") {
		t.Fatalf("the folder holds %v (%v); want the temporary name and the lock file", ents, err)
	}
	root := filepath.Join(dir, "root")
	folder := filepath.Join(root, "0000_0000")
	if err := os.MkdirAll(folder, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, ents[0].Name()), filepath.Join(folder, ".0000_0009.lock.00000000deadbeef.tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(folder, "0000_0009.kekbit"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if ids, err := List(OSFS{}, root); err != nil || len(ids) != 1 || ids[0] != 9 {
		t.Fatalf("List beside a temporary name left behind: %v, %v; want [9]", ids, err)
	}
}

// madeBornLocked makes a lock file in a new folder by makeLockFile, held
// until the test ends, and checks that it was born locked: it holds the
// creator's mark and its lock is held.
func madeBornLocked(t *testing.T) (o OSFS, dir, lockPath string) {
	t.Helper()
	dir = testdir.New(t)
	o = OSFS{Root: dir}
	lockPath = filepath.Join(dir, "0000_0009.lock")
	lock, err := makeLockFile[OSFile](o, lockPath)
	if err != nil {
		t.Fatalf("makeLockFile: %v", err)
	}
	t.Cleanup(func() { lock.Close() })
	if got, err := os.ReadFile(lockPath); err != nil || string(got) != string(creatorMark) {
		t.Fatalf("the lock file holds %q, %v; want the creator's mark (born locked)", got, err)
	}
	if err := creatorAlive[OSFile](o, lockPath); err != nil {
		t.Fatalf("creatorAlive: %v, want the lock held", err)
	}
	return o, dir, lockPath
}

// bornLockedErr is OSFS whose CreateLocked fails with err.
type bornLockedErr struct {
	OSFS
	err error
}

func (b bornLockedErr) CreateLocked(string, []byte) (OSFile, error) { return OSFile{}, b.err }

// TestNotBornLockedOnly: the lock file is made by CreateExclusive after
// ErrNotBornLocked alone, not after another error that matches
// errors.ErrUnsupported (an EOPNOTSUPP from the lock, say); and when
// CreateExclusive fails too, the error says why it was not born locked.
func TestNotBornLockedOnly(t *testing.T) {
	dir := testdir.New(t)
	lockPath := filepath.Join(dir, "0000_0009.lock")
	failed := fmt.Errorf("locking it before it has a name: %w", unix.EOPNOTSUPP)
	if lock, err := makeLockFile[OSFile](bornLockedErr{OSFS{Root: dir}, failed}, lockPath); !errors.Is(err, unix.EOPNOTSUPP) {
		if err == nil {
			lock.Close()
		}
		t.Fatalf("makeLockFile after %q: %v; want that error", failed, err)
	}
	if _, err := os.Stat(lockPath); !os.IsNotExist(err) {
		t.Fatalf("a lock file was made after %q: %v", failed, err)
	}
	why := fmt.Errorf("%w: %w", ErrNotBornLocked, &linkError{unix.EPERM})
	lock, err := makeLockFile[OSFile](bornLockedErr{OSFS{Root: dir}, why}, lockPath)
	if err != nil {
		t.Fatalf("makeLockFile after ErrNotBornLocked: %v; want CreateExclusive's lock file", err)
	}
	lock.Close()
	inMissing := filepath.Join(dir, "missing", "0000_0009.lock")
	_, err = makeLockFile[OSFile](bornLockedErr{OSFS{}, why}, inMissing)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), why.Error()) || strings.Count(err.Error(), inMissing) > 1 {
		t.Fatalf("makeLockFile in a missing folder after ErrNotBornLocked: %v; want ErrNotExist, naming %q, the path at most once", err, why)
	}
}

// TestUnnamedCannotLink: an unnamed file (O_TMPFILE) that cannot be
// linked through /proc (ENOENT: a /proc of another pid namespace, say)
// leaves nothing, and the lock file is born locked under a temporary
// name instead; a lock file that exists is still refused at once.
func TestUnnamedCannotLink(t *testing.T) {
	defer func(was func(int, string, int, string, int) error) { linkat = was }(linkat)
	orig := linkat
	viaProc := 0
	linkat = func(olddirfd int, oldpath string, newdirfd int, newpath string, flags int) error {
		if strings.HasPrefix(oldpath, "/proc/") {
			viaProc++
			return unix.ENOENT
		}
		return orig(olddirfd, oldpath, newdirfd, newpath, flags)
	}
	o, dir, lockPath := madeBornLocked(t)
	if ents, err := os.ReadDir(dir); err != nil || len(ents) != 1 {
		t.Fatalf("the folder holds %v (%v); want the lock file alone", ents, err)
	}
	if _, err := o.CreateLocked(lockPath, creatorMark); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("CreateLocked of a lock file that exists: %v, want fs.ErrExist", err)
	}
	// Where an unnamed file can be made here, the /proc link was tried
	// (and refused) before the temporary name.
	if fd, err := openUnnamed(unixDirFD(t, dir)); err == nil {
		unix.Close(fd)
		if viaProc == 0 {
			t.Fatal("O_TMPFILE works here, yet no link through /proc was tried")
		}
	}
}

// unixDirFD opens the folder dir for the *at calls, closed at the test's
// end.
func unixDirFD(t *testing.T, dir string) int {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// TestCreateLockedPlanted: a symbolic link or a FIFO planted at the lock
// file's name (by another user of a shared root) is refused as a lock
// file that exists; what it points to is not touched, and nothing else is
// left in the folder.
func TestCreateLockedPlanted(t *testing.T) {
	bornLockedModes(t, func(t *testing.T) {
		for _, planted := range []string{"symlink", "fifo"} {
			dir := testdir.New(t)
			lockPath := filepath.Join(dir, "0000_0009.lock")
			target := filepath.Join(dir, "target")
			if err := os.WriteFile(target, []byte("keep"), 0o600); err != nil {
				t.Fatal(err)
			}
			var err error
			if planted == "symlink" {
				err = os.Symlink(target, lockPath)
			} else {
				err = unix.Mkfifo(lockPath, 0o600)
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := makeLockFile[OSFile](OSFS{Root: dir}, lockPath); !errors.Is(err, ports.ErrChannelExists) {
				t.Errorf("%s at the lock file's name: %v, want ErrChannelExists", planted, err)
			}
			if got, err := os.ReadFile(target); err != nil || string(got) != "keep" {
				t.Errorf("%s: the target holds %q, %v; want it untouched", planted, got, err)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 2 {
				t.Errorf("%s: the folder holds %v; want the target and what was planted", planted, ents)
			}
		}
	})
}
