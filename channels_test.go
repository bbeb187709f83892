//go:build linux

package kekbit_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit"
	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/ports"
)

// smallHeader is the header of a small test channel id.
func smallHeader(t *testing.T, id uint64) kekbit.Header {
	t.Helper()
	h, err := kekbit.NewHeader(kekbit.Hints{ChannelID: id, Capacity: 1 << 14, MaxMsgLen: 64, Timeout: 3_600_000, TickUnit: kekbit.Millis})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// states returns the state ListChannels gives each id under root.
func states(t *testing.T, root string) map[uint64]kekbit.ChannelStatus {
	t.Helper()
	list, err := kekbit.ListChannels(root)
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[uint64]kekbit.ChannelStatus)
	for _, c := range list {
		m[c.ID] = c
	}
	return m
}

// TestListChannels: every state ListChannels tells, each for what makes
// it: a live writer, a closed channel, a full one, a released one
// (abandoned), one cut to the crate's size (unknown), a creator at work,
// a dead creator's lock file, and a FIFO.
func TestListChannels(t *testing.T) {
	root := t.TempDir()
	vol := mmap.NewVolume(root)
	write := func(id uint64, records int) *kekbit.Writer[[]byte] {
		w, err := kekbit.ShmWriter(root, smallHeader(t, id), codecs.Raw{})
		if err != nil {
			t.Fatal(err)
		}
		for range records {
			if _, err := w.Write([]byte("record")); err != nil {
				t.Fatal(err)
			}
		}
		return w
	}
	live := write(1, 2)
	defer live.Close()
	if err := write(2, 3).Close(); err != nil {
		t.Fatal(err)
	}
	full := write(3, 0)
	for {
		if _, err := full.Write(make([]byte, 64)); err != nil {
			break
		}
	}
	for { // heartbeats fill what is left to the last byte
		if _, err := full.Heartbeat(); err != nil {
			if !errors.Is(err, kekbit.ErrChannelFull) {
				t.Fatal(err)
			}
			break
		}
	}
	full.Release()
	if err := write(4, 1).Release(); err != nil {
		t.Fatal(err)
	}
	if err := write(5, 1).Release(); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(vol.Path(5), 1<<14+160); err != nil { // the crate's size
		t.Fatal(err)
	}
	inInit, release := make(chan struct{}), make(chan struct{})
	created := make(chan error, 1)
	go func() {
		_, err := vol.Create(6, 1<<15, func(ports.Storage) error { close(inInit); <-release; return errors.New("over") })
		created <- err
	}()
	<-inInit
	defer func() { close(release); <-created }()
	for _, p := range []string{vol.Path(7), mmap.LockPath(vol.Path(7))} {
		if err := os.WriteFile(p, nil, 0o644); err != nil { // a creator that died
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(vol.Path(8), 0o644); err != nil {
		t.Fatal(err)
	}
	// A planted sparse file claiming 4 GiB, and a link to a channel.
	planted, err := kekbit.NewHeader(kekbit.Hints{ChannelID: 9, Capacity: kekbit.MaxCapacity, MaxMsgLen: 64, Timeout: 1000, TickUnit: kekbit.Millis})
	if err != nil {
		t.Fatal(err)
	}
	b, err := planted.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(vol.Path(9), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(vol.Path(9), planted.FileSize()); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(vol.Path(2), vol.Path(10)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	got := states(t, root)
	t.Logf("ListChannels of 10 channels, 3 of them hostile, in %v", time.Since(start))
	for id, want := range map[uint64]kekbit.ChannelState{
		1: kekbit.StateLive, 2: kekbit.StateClosed, 3: kekbit.StateFull, 4: kekbit.StateAbandoned,
		5: kekbit.StateUnknown, 6: kekbit.StateCreating, 7: kekbit.StateAbandonedCreate, 8: kekbit.StateInvalid,
		9: kekbit.StateInvalid, 10: kekbit.StateInvalid,
	} {
		if got[id].State != want {
			t.Errorf("channel %d: %v (%v), want %v", id, got[id].State, got[id].Err, want)
		}
	}
	if len(got) != 10 {
		t.Errorf("ListChannels listed %d channels, want 10: %v", len(got), got)
	}
	if !errors.Is(got[9].Err, kekbit.ErrHole) || !errors.Is(got[10].Err, kekbit.ErrSymlink) {
		t.Errorf("the planted file's error: %v; the link's: %v; want ErrHole, ErrSymlink", got[9].Err, got[10].Err)
	}
	if got[2].Records != 3 {
		t.Errorf("the closed channel holds %d records, want 3", got[2].Records)
	}
	if !errors.Is(got[8].Err, kekbit.ErrNotRegular) {
		t.Errorf("the FIFO's error: %v, want ErrNotRegular", got[8].Err)
	}
	if s := kekbit.ShmChannelStatus(root, 7); s.State != kekbit.StateAbandonedCreate {
		t.Errorf("ShmChannelStatus of a dead creator's channel: %v", s.State)
	}
	if s := kekbit.ShmChannelStatus(root, 99); s.State != kekbit.StateNone || s.Err != nil {
		t.Errorf("ShmChannelStatus of no channel: %v, %v", s.State, s.Err)
	}
	for s, word := range map[kekbit.ChannelState]string{kekbit.StateAbandonedCreate: "abandoned-create", kekbit.StateLive: "live"} {
		if s.String() != word {
			t.Errorf("%d.String() = %q, want %q", int(s), s.String(), word)
		}
	}
}

// envKilledCreatorRoot makes the test binary the creator process of
// TestCreatorKilledDuringCreate.
const envKilledCreatorRoot = "KEKBIT_KILLED_CREATOR_ROOT"

// killedID is the channel that creator process creates.
const killedID = 0x2_0000_0003

// TestKilledCreatorProcess is the creator process of
// TestCreatorKilledDuringCreate: it creates a channel of 4 GiB with
// ShmWriter, which takes long enough (reserving its blocks) to be killed
// in the middle.
func TestKilledCreatorProcess(t *testing.T) {
	root := os.Getenv(envKilledCreatorRoot)
	if root == "" {
		t.Skip("run by TestCreatorKilledDuringCreate")
	}
	h, err := kekbit.NewHeader(kekbit.Hints{ChannelID: killedID, Capacity: kekbit.MaxCapacity, MaxMsgLen: 64, Timeout: 1000, TickUnit: kekbit.Millis})
	if err == nil {
		_, err = kekbit.ShmWriter(root, h, codecs.Raw{})
	}
	fmt.Println("created:", err)
	time.Sleep(time.Hour)
}

// TestCreatorKilledDuringCreate SIGKILLs a creator in the middle of the
// create of a 4 GiB channel, 20 times in a row; each time the id is listed
// as abandoned-create (by the lock it held, whatever the age of its files),
// readers get ErrChannelNotReady and ErrCreatorGone, and a new writer
// takes the id over: directly (odd rounds) or after RemoveAbandoned
// removed what the creator left (even rounds).
func TestCreatorKilledDuringCreate(t *testing.T) {
	root := filepath.Join(shmTempDir(t), "r")
	vol := mmap.NewVolume(root)
	path := vol.Path(killedID)
	for round := range 20 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKilledCreatorProcess$")
		cmd.Env = append(os.Environ(), envKilledCreatorRoot+"="+root, "GORACE=atexit_sleep_ms=0")
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		said := make(chan string, 1)
		go func() { line, _ := bufio.NewReader(out).ReadString('\n'); said <- line }()
		// Even rounds kill it as soon as its lock file is there, odd ones
		// once its channel file is too (reserving the 4 GiB).
		wait := mmap.LockPath(path)
		if round%2 == 1 {
			wait = path
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			if _, err := os.Lstat(wait); err == nil {
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("round %d: the creator made no lock file in 20 s", round)
			}
			time.Sleep(20 * time.Microsecond)
		}
		cmd.Process.Kill()
		cmd.Wait()
		select {
		case line := <-said:
			if line != "" {
				t.Fatalf("round %d: the creator finished before the kill: %q", round, line)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("round %d: the killed creator's stdout is still open", round)
		}
		s := states(t, root)[killedID]
		if s.State != kekbit.StateAbandonedCreate {
			t.Fatalf("round %d: listed as %v (%v), want abandoned-create", round, s.State, s.Err)
		}
		if _, err := kekbit.ShmReader(root, killedID); !errors.Is(err, kekbit.ErrChannelNotReady) || !errors.Is(err, kekbit.ErrCreatorGone) {
			t.Fatalf("round %d: ShmReader: %v, want ErrChannelNotReady and ErrCreatorGone", round, err)
		}
		if round%2 == 0 {
			if err := kekbit.RemoveAbandoned(vol, killedID); err != nil {
				t.Fatalf("round %d: RemoveAbandoned: %v", round, err)
			}
			for _, p := range []string{path, mmap.LockPath(path)} {
				if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("round %d: after RemoveAbandoned %s: %v", round, p, err)
				}
			}
		}
		w, err := kekbit.ShmWriter(root, smallHeader(t, killedID), codecs.Raw{})
		if err != nil {
			t.Fatalf("round %d: a new writer: %v", round, err)
		}
		if _, err := w.Write([]byte("taken over")); err != nil {
			t.Fatal(err)
		}
		if s := states(t, root)[killedID]; s.State != kekbit.StateLive {
			t.Fatalf("round %d: the new writer's channel is %v (%v), want live", round, s.State, s.Err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if s := states(t, root)[killedID]; s.State != kekbit.StateClosed || s.Records != 1 {
			t.Fatalf("round %d: closed channel listed as %v with %d records", round, s.State, s.Records)
		}
		if err := vol.Remove(killedID); err != nil {
			t.Fatal(err)
		}
	}
}

// shmTempDir returns a fresh folder on tmpfs (/dev/shm) where there is one,
// else a temporary folder.
func shmTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/dev/shm", "kekbit-test-")
	if err != nil {
		return t.TempDir()
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
