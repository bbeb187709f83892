//go:build linux

package mmap_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/internal/channeltest"
	"github.com/kekbit-go/kekbit/internal/testdir"
)

func TestCreateDiskFullTmpfs(t *testing.T) {
	root := testdir.Tmpfs(t, "size=1m")
	vol := mmap.NewVolume(root)
	_, err := domain.Create(vol, channeltest.Header(t, 4, 4<<20), codecs.Raw{})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Create of a 4 MiB channel on a 1 MiB tmpfs: %v, want ENOSPC", err)
	}
	assertNoFiles(t, root, 4)
	// A channel that fits still works.
	w, err := domain.Create(vol, channeltest.Header(t, 5, 256<<10), codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("fits")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestReaderMappingIsReadOnly shows that a reader maps the file read-only
// ("r--s" in /proc/self/maps) from a file without write permission.
func TestReaderMappingIsReadOnly(t *testing.T) {
	root := testdir.New(t)
	vol := mmap.NewVolume(root)
	w, err := domain.Create(vol, channeltest.Header(t, 7, 0), codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("read me")); err != nil {
		t.Fatal(err)
	}
	w.Close()
	path := mmap.ChannelPath(root, 7)
	if err := os.Chmod(path, 0o444); err != nil {
		t.Fatal(err)
	}
	r, _ := openReader(t, vol, 7)
	perms := mappingPerms(t, path)
	if !slices.Equal(perms, []string{"r--s"}) {
		t.Fatalf("mappings of %s: %q, want one r--s", path, perms)
	}
	if got, err := readAll(t, r); !slices.Equal(got, []string{"read me"}) || !errors.Is(err, domain.ErrClosed) {
		t.Fatalf("read %q, %v", got, err)
	}
}

// mappingPerms returns the permissions of this process's mappings of path.
func mappingPerms(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		t.Skipf("no /proc/self/maps: %v", err)
	}
	defer f.Close()
	var perms []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 6 && strings.Join(fields[5:], " ") == path {
			perms = append(perms, fields[1])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return perms
}

// TestPretouch checks that a pretouched channel has every page resident in
// the writer's and a reader's mapping, and still reads as written.
func TestPretouch(t *testing.T) {
	root := testdir.New(t)
	vol := mmap.NewVolume(root, mmap.WithPretouch())
	w, err := domain.Create(vol, channeltest.Header(t, 21, 1<<20), codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Write([]byte("after pretouch")); err != nil {
		t.Fatal(err)
	}
	st, err := vol.Open(21)
	if err != nil {
		t.Fatal(err)
	}
	if rss, size := residentKB(t, st.(*mmap.Storage).Bytes()); rss != size {
		t.Fatalf("reader's mapping: %d of %d kB resident after pretouch", rss, size)
	}
	r, err := domain.NewReader(st)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got string
	r.Read(func(rec domain.Record) error { p := rec.Payload; got = string(p); return nil }, 0)
	if got != "after pretouch" {
		t.Fatalf("read %q", got)
	}
}

// TestPretouchJoin: with WithPretouch, a writer joining a multi-writer
// channel has every page of its mapping resident from the start (before,
// it took a page fault per 4 KiB it wrote, about a microsecond each here).
func TestPretouchJoin(t *testing.T) {
	root := testdir.New(t)
	h, err := domain.NewHeader(domain.Hints{WriterID: 1, ChannelID: 22, Capacity: 1 << 20, MaxMsgLen: 100,
		Timeout: 1000, TickUnit: domain.Millis, MultiWriter: true})
	if err != nil {
		t.Fatal(err)
	}
	w, err := domain.Create(mmap.NewVolume(root), h, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, pretouch := range []bool{false, true} {
		var opts []mmap.VolumeOption
		if pretouch {
			opts = append(opts, mmap.WithPretouch())
		}
		st, err := mmap.NewVolume(root, opts...).OpenToJoin(22)
		if err != nil {
			t.Fatal(err)
		}
		rss, size := residentKB(t, st.(*mmap.Storage).Bytes())
		if pretouch && rss != size || !pretouch && rss == size {
			t.Errorf("pretouch %v: %d of %d kB of the joiner's mapping resident", pretouch, rss, size)
		}
		st.Close()
	}
}

// residentKB reads the Size and Rss of the mapping that starts at b from
// /proc/self/smaps.
func residentKB(t *testing.T, b []byte) (rss, size int) {
	t.Helper()
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Skip("no /proc/self/smaps:", err)
	}
	start := strings.TrimPrefix(fmt.Sprintf("%p", &b[0]), "0x")
	lines := strings.Split(string(smaps), "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, start+"-") {
			continue
		}
		for _, f := range lines[i+1:] {
			if strings.HasPrefix(f, "VmFlags:") { // the entry's last line
				break
			}
			fmt.Sscanf(f, "Size: %d kB", &size)
			fmt.Sscanf(f, "Rss: %d kB", &rss)
		}
		return rss, size
	}
	t.Fatalf("no mapping at %s in /proc/self/smaps", start)
	return 0, 0
}

// TestPretouchAhead: a channel made WithPretouchAhead is the writer's at
// once; its pages get populated in the background while the writer
// writes, without changing a byte it wrote; Close stops the populate.
func TestPretouchAhead(t *testing.T) {
	root := testdir.New(t)
	vol := mmap.NewVolume(root, mmap.WithPretouchAhead())
	w, err := domain.Create(vol, channeltest.Header(t, 22, 8<<20), codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	const n = 20000
	for i := 0; i < n; i++ {
		if _, err := w.Write([]byte(fmt.Sprintf("record %06d", i))); err != nil {
			t.Fatal(err)
		}
	}
	st, err := vol.Open(22)
	if err != nil {
		t.Fatal(err)
	}
	r, err := domain.NewReader(st)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	i := 0
	r.Read(func(rec domain.Record) error {
		if want := fmt.Sprintf("record %06d", i); string(rec.Payload) != want {
			t.Fatalf("record %d: %q, want %q", i, rec.Payload, want)
		}
		i++
		return nil
	}, 0)
	if i != n {
		t.Fatalf("read %d records, want %d", i, n)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}
