//go:build linux

package reliability_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/ports"
)

// createProcess tries to create channel envID under envRoot (or, with
// envPath, the channel file at that path, with mmap.CreateFile) and prints
// its verdict: "exists ERROR" when refused with ports.ErrChannelExists,
// "created" when it was not refused (it then exits without touching the
// channel), "other ERROR" for any other error.
func createProcess() error {
	id, err := envUint(envID)
	if err != nil {
		return err
	}
	h, err := killHeader(id)
	if err != nil {
		return err
	}
	if path := os.Getenv(envPath); path != "" {
		_, err = mmap.CreateFile(path, h.FileSize(), func(ports.Storage) error { return nil })
	} else {
		_, err = domain.Create(mmap.NewVolume(os.Getenv(envRoot)), h, codecs.Raw{})
	}
	switch {
	case err == nil:
		say("%screated", verdictPrefix)
	case errors.Is(err, ports.ErrChannelExists):
		say("%sexists %v", verdictPrefix, err)
	default:
		say("%sother %v", verdictPrefix, err)
	}
	return nil
}

// refusedLoopProcess tries to create channel envID under envRoot again and
// again, each time refused, until it is killed. It says "ready" after the
// first refusal, and exits with an error if one attempt is not refused.
func refusedLoopProcess() error {
	id, err := envUint(envID)
	if err != nil {
		return err
	}
	h, err := killHeader(id)
	if err != nil {
		return err
	}
	vol := mmap.NewVolume(os.Getenv(envRoot))
	for i := 0; ; i++ {
		if _, err := domain.Create(vol, h, codecs.Raw{}); !errors.Is(err, ports.ErrChannelExists) {
			return fmt.Errorf("attempt %d: %v, want ErrChannelExists", i, err)
		}
		if i == 0 {
			say("ready")
		}
	}
}

// refusals tries every way to create channel id again, in this process and
// in another, and checks each is refused with ports.ErrChannelExists and
// an error naming the channel.
func refusals(t *testing.T, vol *mmap.Volume, id uint64) {
	t.Helper()
	h, err := killHeader(id)
	if err != nil {
		t.Fatal(err)
	}
	path := vol.Path(id)
	other := h
	other.Capacity *= 2 // a different channel, same id
	for _, c := range []struct {
		what string
		err  func() error
	}{
		{"domain.Create", func() error { _, err := domain.Create(vol, h, codecs.Raw{}); return err }},
		{"domain.Create on another Volume of the root", func() error {
			_, err := domain.Create(mmap.NewVolume(vol.Root()), h, codecs.Raw{})
			return err
		}},
		{"domain.Create of another header", func() error { _, err := domain.Create(vol, other, codecs.Raw{}); return err }},
		{"Volume.Create", func() error {
			_, err := vol.Create(id, h.FileSize(), func(ports.Storage) error { return nil })
			return err
		}},
		{"mmap.CreateFile", func() error {
			_, err := mmap.CreateFile(path, h.FileSize(), func(ports.Storage) error { return nil })
			return err
		}},
	} {
		err := c.err()
		if !errors.Is(err, ports.ErrChannelExists) {
			t.Fatalf("%s of a channel that exists: %v, want ErrChannelExists", c.what, err)
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("%s: %q does not name the channel file %s", c.what, err, path)
		}
		if c.what != "mmap.CreateFile" && !strings.Contains(err.Error(), fmt.Sprintf("%#x", id)) {
			t.Errorf("%s: %q does not name channel %#x", c.what, err, id)
		}
	}
	for _, env := range [][]string{
		{envRoot + "=" + vol.Root(), envID + "=" + strconv.FormatUint(id, 10)},
		{envPath + "=" + path, envID + "=" + strconv.FormatUint(id, 10)},
	} {
		p := startHelper(t, "create", env...)
		if exited, err := p.waitTimeout(followDeadline); !exited || err != nil {
			t.Fatalf("creating process: exited %v, %v; %s", exited, err, p.describe())
		}
		v, _ := p.verdict()
		if !strings.HasPrefix(v, "exists ") || !strings.Contains(v, path) {
			t.Fatalf("creating process (%v): %q, want refused with ErrChannelExists naming %s", env, v, path)
		}
	}
	if _, err := os.Lstat(mmap.LockPath(path)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused writer left the lock file: %v", err)
	}
}

// TestSecondWriterRefused opens a second writer on a live channel, from
// this process and from another: each is refused with
// ports.ErrChannelExists naming the channel, and the first writer and its
// readers go on as if nothing happened. Once closed, the channel is still
// never created again.
func TestSecondWriterRefused(t *testing.T) {
	root := t.TempDir()
	vol := mmap.NewVolume(root)
	const id = 0x2222_0000_0001
	h, err := killHeader(id)
	if err != nil {
		t.Fatal(err)
	}
	w, err := domain.Create(vol, h, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 64)
	rng := rand.New(rand.NewPCG(1, 1))
	var seq uint64
	write := func(n int) {
		t.Helper()
		for range n {
			buf = makeRecord(buf, seq, int(seq%40), rng)
			if _, err := w.Write(buf); err != nil {
				t.Fatal(err)
			}
			seq++
		}
	}
	write(10)
	r, err := domain.Open(vol, id)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	refusals(t, vol, id)

	write(10)
	var v verifier
	if _, err := r.Read(v.handle, 0); !errors.Is(err, domain.ErrNothingYet) || v.err != nil || v.next != 20 {
		t.Fatalf("after the refusals the reader read %d records, %v, %v; want 20", v.next, v.err, err)
	}
	if alive, err := r.WriterAlive(); !alive || err != nil {
		t.Fatalf("WriterAlive() = %v, %v", alive, err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Read(v.handle, 0); !errors.Is(err, domain.ErrClosed) || v.err != nil || v.next != 20 {
		t.Fatalf("after Close the reader read %d records, %v, %v", v.next, v.err, err)
	}
	// Channels are written once: a closed one is never created again.
	refusals(t, vol, id)
}

// TestKilledWriterChannelNeverRewritten SIGKILLs a writer process: its
// flock is released (a reader's WriterAlive turns false), the reader reads
// every record and ends with ErrWriterGone, and the abandoned channel is
// never created or written again: every attempt is refused with
// ports.ErrChannelExists and the file keeps every byte.
func TestKilledWriterChannelNeverRewritten(t *testing.T) {
	root := t.TempDir()
	vol := mmap.NewVolume(root)
	const id = 0x2222_0000_0002
	wp := startHelper(t, "writer", envRoot+"="+root, envID+"="+strconv.FormatUint(id, 10), envSeed+"=5")
	select {
	case <-wp.ready:
	case <-wp.done:
		t.Fatalf("writer process died: %s", wp.describe())
	case <-time.After(followDeadline):
		t.Fatal("writer process never ready")
	}
	r, err := domain.Open(vol, id, domain.WithWait(fastWait))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if alive, err := r.WriterAlive(); !alive || err != nil {
		t.Fatalf("WriterAlive() = %v, %v while the writer runs", alive, err)
	}
	refusals(t, vol, id) // refused while the writer is alive

	// Let it write a while, then kill it.
	deadline := time.Now().Add(followDeadline)
	for !slices.ContainsFunc(wp.output(), func(l string) bool { return strings.HasPrefix(l, "pub ") }) {
		if time.Now().After(deadline) {
			t.Fatalf("the writer published nothing: %s", wp.describe())
		}
		time.Sleep(time.Millisecond)
	}
	wp.kill()
	for {
		alive, err := r.WriterAlive()
		if err != nil {
			t.Fatal(err)
		}
		if !alive {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("WriterAlive() still true long after the writer process was killed")
		}
		time.Sleep(time.Millisecond)
	}

	path := vol.Path(id)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	refusals(t, vol, id)
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Fatal("refused writers changed the abandoned channel file")
	}
	if ids, err := vol.List(); err != nil || !slices.Equal(ids, []uint64{id}) {
		t.Fatalf("List() = %#x, %v", ids, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), followDeadline)
	defer cancel()
	var v verifier
	err = r.Follow(ctx, v.handle)
	if v.err != nil || !errors.Is(err, domain.ErrWriterGone) {
		t.Fatalf("reading the abandoned channel: %d records, %v, then %v; want ErrWriterGone", v.next, v.err, err)
	}
	t.Logf("%d records, then %v", v.next, err)
}

// TestRefusedWriterDoesNotLockReadersOut: refused second writers, some
// killed mid-refusal, must never make a live, ready channel look "still
// being created" (ports.ErrChannelNotReady) to its readers. They once did:
// mmap's create made the lock file before it found the channel file, so a
// refused writer dying in that window locked the channel's readers out for
// good.
func TestRefusedWriterDoesNotLockReadersOut(t *testing.T) {
	root := t.TempDir()
	vol := mmap.NewVolume(root)
	const id = 0x2222_0000_0003
	h, err := killHeader(id)
	if err != nil {
		t.Fatal(err)
	}
	w, err := domain.Create(vol, h, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Write([]byte("a record")); err != nil {
		t.Fatal(err)
	}

	t.Run("while-refused", func(t *testing.T) {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				domain.Create(vol, h, codecs.Raw{})
			}
		})
		notReady := 0
		for range 2000 {
			r, err := domain.Open(vol, id)
			switch {
			case errors.Is(err, ports.ErrChannelNotReady):
				notReady++
			case err != nil:
				t.Error(err)
			default:
				r.Close()
			}
		}
		close(stop)
		wg.Wait()
		if notReady > 0 {
			t.Errorf("%d of 2000 opens of a ready channel failed with ErrChannelNotReady while another writer was being refused", notReady)
		}
	})

	t.Run("refused-writer-killed", func(t *testing.T) {
		for i := range 20 {
			p := startHelper(t, "refused-loop", envRoot+"="+root, envID+"="+strconv.FormatUint(id, 10))
			select {
			case <-p.ready:
			case <-p.done:
				t.Fatalf("refusing process died: %s", p.describe())
			case <-time.After(followDeadline):
				t.Fatal("refusing process never ready")
			}
			time.Sleep(time.Duration(i%5) * time.Millisecond)
			p.kill()
			if r, err := domain.Open(vol, id); err != nil {
				t.Fatalf("kill %d of a refused writer: the ready channel no longer opens: %v", i, err)
			} else {
				r.Close()
			}
		}
	})
}
