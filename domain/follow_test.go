package domain_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/ports"
)

var quickWait = domain.Wait{Spins: 10, Yields: 10, MinSleep: 10 * time.Microsecond, MaxSleep: 200 * time.Microsecond}

func TestFollowUntilClosed(t *testing.T) {
	for _, wait := range []domain.Wait{domain.DefaultWait, domain.BusySpin, quickWait} {
		h := small(t)
		mem := memory.New(h.FileSize())
		w, _ := domain.NewWriter(mem.Share(), h, codecs.Raw{})
		r := mustReader(t, mem, domain.WithWait(wait))
		go func() {
			for i := range 50 {
				w.Write([]byte{byte(i)})
				if i%10 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
			w.Close()
		}()
		var got []byte
		err := r.Follow(context.Background(), func(rec domain.Record) error { p := rec.Payload; got = append(got, p[0]); return nil })
		if !errors.Is(err, domain.ErrClosed) || len(got) != 50 {
			t.Fatalf("wait %+v: %d records, %v", wait, len(got), err)
		}
		for i, b := range got {
			if int(b) != i {
				t.Fatalf("record %d is %d", i, b)
			}
		}
	}
}

func TestFollowRecordsUntilClosed(t *testing.T) {
	h := small(t)
	mem := memory.New(h.FileSize())
	w, _ := domain.NewWriter(mem.Share(), h, codecs.Text{})
	r := mustReader(t, mem, domain.WithWait(quickWait))
	go func() {
		for _, s := range []string{"a", "b", "c"} {
			time.Sleep(time.Millisecond)
			w.Write(s)
		}
		w.Close()
	}()
	var got string
	for rec := range r.FollowRecords(context.Background()) {
		got += string(rec.Payload)
	}
	if got != "abc" || !errors.Is(r.Err(), domain.ErrClosed) {
		t.Fatalf("%q, %v", got, r.Err())
	}
}

func TestFollowStopsWithContext(t *testing.T) {
	h := small(t)
	mem := memory.New(h.FileSize())
	domain.NewWriter(mem.Share(), h, codecs.Raw{})
	r := mustReader(t, mem, domain.WithWait(quickWait))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := r.Follow(ctx, func(domain.Record) error { return nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Follow: %v", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	for range r.FollowRecords(ctx) {
		t.Fatal("record")
	}
	if !errors.Is(r.Err(), context.Canceled) {
		t.Fatalf("FollowRecords: %v", r.Err())
	}
}

func TestFollowTimesOut(t *testing.T) {
	h, _ := domain.NewHeader(domain.Hints{Capacity: 16384, MaxMsgLen: 64, Timeout: 30, TickUnit: domain.Millis})
	mem := memory.New(h.FileSize())
	domain.NewWriter(mem.Share(), h, codecs.Raw{})
	r := mustReader(t, mem, domain.WithWait(quickWait))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Follow(ctx, func(domain.Record) error { return nil }); !errors.Is(err, domain.ErrTimeout) {
		t.Fatalf("Follow: %v", err)
	}
}

// mortal is a memory storage that can say its writer died.
type mortal struct {
	*memory.Storage
	alive atomic.Bool
}

func (m *mortal) WriterAlive() (bool, error) { return m.alive.Load(), nil }

func TestFollowNoticesWriterGone(t *testing.T) {
	for _, wait := range []domain.Wait{quickWait, domain.BusySpin} {
		followNoticesWriterGone(t, wait)
	}
}

func followNoticesWriterGone(t *testing.T, wait domain.Wait) {
	h := small(t)
	mem := memory.New(h.FileSize())
	w, _ := domain.NewWriter(mem.Share(), h, codecs.Raw{})
	st := &mortal{Storage: mem}
	st.alive.Store(true)
	r := mustReader(t, st, domain.WithWait(wait))
	if alive, err := r.WriterAlive(); !alive || err != nil {
		t.Fatal(alive, err)
	}
	w.Write([]byte("last words"))
	st.alive.Store(false) // died after publishing, before the reader saw it
	var got []string
	err := r.Follow(context.Background(), func(rec domain.Record) error { p := rec.Payload; got = append(got, string(p)); return nil })
	var re *domain.ReadError
	if !errors.As(err, &re) || re.Err != domain.ErrWriterGone || re.Position != 32 || re.BytesRead != 32 || len(got) != 1 {
		t.Fatalf("wait %+v: %v, %#v", wait, got, err)
	}
	if _, err := mustReader(t, mem).WriterAlive(); !errors.Is(err, domain.ErrLivenessUnknown) {
		t.Fatalf("memory storage liveness: %v", err)
	}
}

// faulty is a memory storage that claims faults in its memory are its own.
type faulty struct{ *memory.Storage }

func (faulty) Faulted(uintptr) bool { return true }

// TestFaultGuardLetsOtherPanicsThrough checks that guarding a fault-prone
// storage does not swallow a handler's own panic.
func TestFaultGuardLetsOtherPanicsThrough(t *testing.T) {
	h := small(t)
	mem := memory.New(h.FileSize())
	w, _ := domain.NewWriter(mem.Share(), h, codecs.Raw{})
	w.Write([]byte("x"))
	r := mustReader(t, faulty{mem})
	defer func() {
		if e := recover(); e != "handler's own" {
			t.Fatalf("recovered %v", e)
		}
	}()
	r.Read(func(domain.Record) error { panic("handler's own") }, 0)
	t.Fatal("the panic was swallowed")
}

func TestOpenWhenReady(t *testing.T) {
	vol := memory.NewVolume()
	h := small(t)
	go func() {
		time.Sleep(5 * time.Millisecond)
		w, err := domain.Create(vol, h, codecs.Raw{})
		if err == nil {
			w.Write([]byte("hello"))
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := domain.OpenWhenReady(ctx, vol, h.ChannelID, domain.WithWait(quickWait))
	if err != nil {
		t.Fatal(err)
	}
	var got string
	for rec := range r.FollowRecords(ctx) {
		p := rec.Payload
		got = string(p)
		break
	}
	if got != "hello" {
		t.Fatalf("got %q", got)
	}

	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	_, err = domain.OpenWhenReady(ctx, vol, 12345, domain.WithWait(domain.BusySpin))
	// The end is the deadline; the last error is only told, so that the
	// caller does not take a timeout for "not found".
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ports.ErrChannelNotFound) || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("missing channel: %v", err)
	}
}

// TestFollowEndsWithContextWhileWriterIsBusy: a writer that never stops
// (heartbeats back to back) must not keep Follow from seeing its context
// end.
func TestFollowEndsWithContextWhileWriterIsBusy(t *testing.T) {
	h, _ := domain.NewHeader(domain.Hints{Capacity: 1 << 24, MaxMsgLen: 64, Timeout: 60, TickUnit: domain.Secs})
	mem := memory.New(h.FileSize())
	w, _ := domain.NewWriter(mem.Share(), h, codecs.Raw{})
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				if _, err := w.Heartbeat(); err != nil {
					return
				}
			}
		}
	}()
	defer func() { close(stop); <-done }()
	r := mustReader(t, mem, domain.WithWait(domain.BusySpin))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := r.Follow(ctx, func(domain.Record) error { return nil }); !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, domain.ErrChannelFull) {
		t.Fatalf("Follow: %v", err)
	}
}
