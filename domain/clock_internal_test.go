package domain

import (
	"errors"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/codecs"
)

// running returns how many coarse clocks run.
func running() int {
	coarseClocks.mu.Lock()
	defer coarseClocks.mu.Unlock()
	return len(coarseClocks.byRes)
}

// TestCoarseClock: records stamped by a coarse clock carry the time of
// their write to within the resolution (and some scheduling slack), never
// go backwards, and the clock's goroutine is shared by two writers and
// stops when the last one is closed or released.
func TestCoarseClock(t *testing.T) {
	const res = time.Millisecond
	h, err := NewHeader(Hints{ChannelID: 1, Capacity: 1 << 16, MaxMsgLen: 64, Timeout: 60, TickUnit: Nanos, Envelope: EnvelopeAll})
	if err != nil {
		t.Fatal(err)
	}
	if n := running(); n != 0 {
		t.Fatalf("%d coarse clocks run before any writer", n)
	}
	st1, st2 := memory.New(h.FileSize()), memory.New(h.FileSize())
	w1, err := NewWriter(st1.Share(), h, codecs.Raw{}, WithCoarseClock(res))
	if err != nil {
		t.Fatal(err)
	}
	w2, err := NewWriter(st2.Share(), h, codecs.Raw{}, WithCoarseClock(res))
	if err != nil {
		t.Fatal(err)
	}
	if n := running(); n != 0 {
		t.Fatalf("a coarse clock runs before the first stamped record (%d)", n)
	}
	type window struct{ before, after int64 }
	var windows []window
	for i := range 50 {
		before := time.Now().UnixNano()
		if _, err := w1.Write([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		if _, err := w2.Write([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		windows = append(windows, window{before, time.Now().UnixNano()})
		time.Sleep(200 * time.Microsecond)
	}
	if n := running(); n != 1 {
		t.Fatalf("two writers with one resolution run %d clocks, want 1", n)
	}
	w1.Close()
	if n := running(); n != 1 {
		t.Fatalf("the clock stopped with one of its two writers (%d running)", n)
	}
	w2.Release()
	if n := running(); n != 0 {
		t.Fatalf("the clock runs on after its last writer was released (%d)", n)
	}

	r, err := NewReader(st1.Share())
	if err != nil {
		t.Fatal(err)
	}
	var last uint64
	i := 0
	for rec := range r.Records() {
		_ = rec
		stamp := r.Time()
		slack := int64(res) + int64(time.Second) // scheduling on a loaded machine: the ticker may run late
		if int64(stamp) > windows[i].after || int64(stamp) < windows[i].before-slack {
			t.Errorf("record %d stamped %d, written between %d and %d", i, stamp, windows[i].before, windows[i].after)
		}
		if stamp < last {
			t.Errorf("record %d stamped %d, before the record ahead of it (%d)", i, stamp, last)
		}
		last = stamp
		i++
	}
	if i != 50 || !errors.Is(r.Err(), ErrClosed) {
		t.Fatalf("read %d records, ending %v; want 50 and closed", i, r.Err())
	}
}

// TestCoarseClockResolutionFloor: a resolution below the floor is raised
// to it.
func TestCoarseClockResolutionFloor(t *testing.T) {
	var o options
	WithCoarseClock(time.Nanosecond)(&o)
	if o.coarse != MinCoarseResolution {
		t.Fatalf("resolution %v, want the floor %v", o.coarse, MinCoarseResolution)
	}
}
