package domain_test

import (
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/ports"
)

func bigHeader(t testing.TB, capacity uint32, maxMsg uint32) domain.Header {
	h, err := domain.NewHeader(domain.Hints{WriterID: 1, ChannelID: 1, Capacity: capacity, MaxMsgLen: maxMsg, Timeout: 3600, TickUnit: domain.Secs})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestHotPathAllocatesNothing checks Write, Heartbeat and Read on both the
// addressable path and the Storage-method path, without an envelope and
// with the whole envelope, stamped by time.Now and by the coarse clock.
func TestHotPathAllocatesNothing(t *testing.T) {
	for _, c := range []struct {
		name string
		env  domain.Envelope
		opts []domain.WriterOption
	}{
		{"plain", 0, nil},
		{"envelope", domain.EnvelopeAll, nil},
		{"envelope/coarse", domain.EnvelopeAll, []domain.WriterOption{domain.WithCoarseClock(time.Millisecond)}},
	} {
		t.Run(c.name, func(t *testing.T) { hotPathAllocatesNothing(t, c.env, c.opts) })
	}
}

func hotPathAllocatesNothing(t *testing.T, env domain.Envelope, opts []domain.WriterOption) {
	backends(t, func(t *testing.T, wrap func(*memory.Storage) ports.Storage) {
		const runs = 1000
		h := bigHeader(t, 1<<20, 100)
		if env != 0 {
			var err error
			if h, err = domain.NewHeader(domain.Hints{WriterID: 1, ChannelID: 1, Capacity: 1 << 20, MaxMsgLen: 100, Timeout: 3600, TickUnit: domain.Secs, Envelope: env}); err != nil {
				t.Fatal(err)
			}
		}
		mem := memory.New(h.FileSize())
		w, err := domain.NewWriter(wrap(mem), h, codecs.Raw{}, opts...)
		if err != nil {
			t.Fatal(err)
		}
		data := make([]byte, 72)
		if a := testing.AllocsPerRun(runs, func() {
			if _, err := w.Write(data); err != nil {
				t.Fatal(err)
			}
		}); a != 0 {
			t.Errorf("Write: %v allocations", a)
		}
		if a := testing.AllocsPerRun(runs, func() {
			if _, err := w.Heartbeat(); err != nil {
				t.Fatal(err)
			}
		}); a != 0 {
			t.Errorf("Heartbeat: %v allocations", a)
		}

		r := mustReader(t, wrap(mem.Share()))
		var sum int
		handler := func(rec domain.Record) error { p := rec.Payload; sum += len(p); return nil }
		if a := testing.AllocsPerRun(runs, func() {
			if _, err := r.Read(handler, 1); err != nil {
				t.Fatal(err)
			}
		}); a != 0 {
			t.Errorf("Read of one record: %v allocations", a)
		}
		// Reaching the writer's end allocates nothing either, nor does a
		// whole iterator loop beyond the iterator itself.
		if a := testing.AllocsPerRun(10, func() {
			r.Read(handler, 0)
		}); a != 0 {
			t.Errorf("Read to the end: %v allocations", a)
		}
		if err := r.MoveTo(0); err != nil {
			t.Fatal(err)
		}
		// A loop over every record allocates what a loop broken off after
		// the first does: the iterator's closures, nothing per record.
		n := 0
		first := testing.AllocsPerRun(1, func() {
			for rec := range r.Records() {
				n += len(rec.Payload)
				break
			}
		})
		if err := r.MoveTo(0); err != nil {
			t.Fatal(err)
		}
		n = 0
		if a := testing.AllocsPerRun(1, func() {
			for rec := range r.Records() {
				p := rec.Payload
				n += len(p)
			}
		}); a > first || a > 3 {
			t.Errorf("Records loop over %d records: %v allocations, over one record %v", runs+1, a, first)
		}
		if n != 72*(runs+1) {
			t.Fatalf("iterator read %d bytes", n)
		}
		w.Close()
	})
}

// TestTextWriteAllocatesNothing: the Text format's Write allocates nothing
// either (the raw fast path's type check must not box the string).
func TestTextWriteAllocatesNothing(t *testing.T) {
	h := bigHeader(t, 1<<20, 100)
	w, err := domain.NewWriter(memory.New(h.FileSize()), h, codecs.Text{})
	if err != nil {
		t.Fatal(err)
	}
	s := "hello, allocation-free world"
	if a := testing.AllocsPerRun(1000, func() {
		if _, err := w.Write(s); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Fatalf("Text Write: %v allocations", a)
	}
}
