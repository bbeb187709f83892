package kekbit_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/spf13/afero"

	"github.com/kekbit-go/kekbit"
	"github.com/kekbit-go/kekbit/adapters/file"
	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/internal/testdir"
	"github.com/kekbit-go/kekbit/ports"
)

// TestWriteErrorsTellTheCasesApart: a value above the max record length, a
// value that fits the max but not the space left, and a channel that can
// take no record at all are three different errors.Is answers, and only the
// last is terminal.
func TestWriteErrorsTellTheCasesApart(t *testing.T) {
	everyBackend(t, func(t *testing.T, vol ports.Volume) {
		h, err := kekbit.NewHeader(kekbit.Hints{ChannelID: 9, Capacity: kekbit.MinCapacity, MaxMsgLen: 100, Timeout: 60, TickUnit: kekbit.Secs})
		if err != nil {
			t.Fatal(err)
		}
		w, err := kekbit.Create(vol, h, codecs.Raw{})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		max := int(h.MaxMsgLen)
		only := func(err, want error) {
			t.Helper()
			for _, e := range []error{kekbit.ErrRecordTooLarge, kekbit.ErrNoSpace, kekbit.ErrChannelFull} {
				if errors.Is(err, e) != (e == want) {
					t.Fatalf("%v: errors.Is(err, %v) = %v", err, e, !(e == want))
				}
			}
		}
		_, err = w.Write(make([]byte, max+1))
		only(err, kekbit.ErrRecordTooLarge)
		for w.Available() >= uint32(kekbit.RecordSize(uint64(max))) {
			if _, err := w.Write(make([]byte, max)); err != nil {
				t.Fatal(err)
			}
		}
		left := int(w.Available()) - 8 // the largest payload that still fits
		if left >= max || left < 2 {
			t.Fatalf("bad setup: %d bytes left", w.Available())
		}
		_, err = w.Write(make([]byte, left+1))
		only(err, kekbit.ErrNoSpace)
		_, err = w.Write(make([]byte, max+1)) // too large beats no space
		only(err, kekbit.ErrRecordTooLarge)
		if _, err := w.Write(make([]byte, left)); err != nil { // the writer is still usable
			t.Fatalf("the last payload that fits: %v", err)
		}
		_, err = w.Write([]byte{1})
		only(err, kekbit.ErrChannelFull)
		if _, err := w.Heartbeat(); !errors.Is(err, kekbit.ErrChannelFull) {
			t.Fatalf("Heartbeat on a full channel: %v", err)
		}
	})
}

// TestChannelErrorsNamePathOnce: a volume's failure is a *ChannelError with
// the operation and channel id, and its message names the path once.
func TestChannelErrorsNamePathOnce(t *testing.T) {
	for name, vol := range map[string]ports.Volume{
		"mmap": mmap.NewVolume(testdir.New(t)),
		"file": file.NewVolume(afero.NewOsFs(), testdir.New(t)),
	} {
		t.Run(name, func(t *testing.T) {
			check := func(what string, err, want error) {
				t.Helper()
				var ce *kekbit.ChannelError
				if !errors.As(err, &ce) || !errors.Is(err, want) || ce.ChannelID != 8 || ce.Path == "" {
					t.Fatalf("%s: %v (%T), want a *ChannelError for channel 8 matching %v", what, err, err, want)
				}
				if n := strings.Count(err.Error(), ce.Path); n != 1 {
					t.Errorf("%s: the message names the path %d times: %v", what, n, err)
				}
			}
			_, err := kekbit.Open(vol, 8)
			check("open of a missing channel", err, kekbit.ErrChannelNotFound)
			h := typedHeader(t, 8)
			w, err := kekbit.Create(vol, h, codecs.Raw{})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			_, err = kekbit.Create(vol, h, codecs.Raw{})
			check("create of a taken id", err, kekbit.ErrChannelExists)
			_, err = kekbit.Resume(vol, 8, codecs.Raw{})
			check("resume of a live channel", err, kekbit.ErrWriterAlive)
		})
	}
}

// TestPositionIsOneRule: inside a handler, a loop body and a follow,
// Position() is the Next of the record at hand, and MoveTo(Next) goes on
// with the record after it.
func TestPositionIsOneRule(t *testing.T) {
	vol := memory.NewVolume()
	w, err := kekbit.Create(vol, typedHeader(t, 10), codecs.Text{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"a", "bb", "ccc"} {
		w.Write(s)
		w.Heartbeat()
	}
	w.Close()
	r, err := kekbit.Open(vol, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var nexts []uint64
	check := func(how string, rec kekbit.Record) {
		if r.Position() != rec.Next() || rec.Next() != rec.Position+kekbit.RecordSize(uint64(len(rec.Payload))) {
			t.Errorf("%s: record at %d, Next %d, Position() %d", how, rec.Position, rec.Next(), r.Position())
		}
	}
	r.Read(func(rec kekbit.Record) error { check("Read", rec); nexts = append(nexts, rec.Next()); return nil }, 0)
	r.MoveTo(0)
	for rec := range r.Records() {
		check("Records", rec)
	}
	r.MoveTo(0)
	r.Follow(context.Background(), func(rec kekbit.Record) error { check("Follow", rec); return nil })
	r.MoveTo(0)
	for rec := range r.FollowRecords(context.Background()) {
		check("FollowRecords", rec)
	}
	// Resuming from each Next yields the records after it, never the one
	// before.
	for i, next := range nexts {
		if err := r.MoveTo(next); err != nil {
			t.Fatal(err)
		}
		n := 0
		for range r.Records() {
			n++
		}
		if n != len(nexts)-1-i {
			t.Errorf("from the Next of record %d: %d records, want %d", i, n, len(nexts)-1-i)
		}
	}
	// A handler's error stops the read, is returned, and leaves the reader
	// after the refused record.
	r.MoveTo(0)
	stop := errors.New("stop")
	n, err := r.Read(func(rec kekbit.Record) error { return stop }, 0)
	if err != stop || r.Position() != nexts[0] || n != int(nexts[0]) {
		t.Fatalf("handler error: %d bytes, %v, at %d; want %d, stop, %d", n, err, r.Position(), nexts[0], nexts[0])
	}
	r.MoveTo(0)
	if err := r.Follow(context.Background(), func(rec kekbit.Record) error { return stop }); err != stop {
		t.Fatalf("Follow with a handler error: %v", err)
	}
}

// TestResumeOnEveryBackend: a writer that released its channel (as a dead
// one leaves it) is carried on by Resume on every backend, after its last
// record; a live one is refused, and a closed one stays closed.
func TestResumeOnEveryBackend(t *testing.T) {
	everyBackend(t, func(t *testing.T, vol ports.Volume) {
		w, err := kekbit.Create(vol, typedHeader(t, 11), codecs.Text{})
		if err != nil {
			t.Fatal(err)
		}
		w.Write("one")
		w.Write("two")
		if _, err := kekbit.Resume(vol, 11, codecs.Text{}); !errors.Is(err, kekbit.ErrWriterAlive) {
			t.Fatalf("Resume of a live channel: %v", err)
		}
		end := w.WriteOffset()
		if err := w.Release(); err != nil {
			t.Fatal(err)
		}
		w2, err := kekbit.Resume(vol, 11, codecs.Text{})
		if err != nil {
			t.Fatal(err)
		}
		if w2.WriteOffset() != end {
			t.Fatalf("resumed at %d, the old writer stopped at %d", w2.WriteOffset(), end)
		}
		w2.Write("three")
		w2.Close()
		r, err := kekbit.Open(vol, 11)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		var got []string
		for v, err := range kekbit.Decode(r.Records(), codecs.Text{}) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, v.Value)
		}
		if strings.Join(got, " ") != "one two three" || !errors.Is(r.Err(), kekbit.ErrClosed) {
			t.Fatalf("read %q, then %v", got, r.Err())
		}
		if _, err := kekbit.Resume(vol, 11, codecs.Text{}); !errors.Is(err, kekbit.ErrClosed) {
			t.Fatalf("Resume of a closed channel: %v", err)
		}
		if runtime.GOOS == "windows" {
			r.Close() // Windows removes no file that is open
		}
		if err := kekbit.RemoveAbandoned(vol, 11); err != nil {
			t.Fatalf("RemoveAbandoned of a closed channel: %v", err)
		}
		if _, err := kekbit.Open(vol, 11); !errors.Is(err, kekbit.ErrChannelNotFound) {
			t.Fatalf("Open after RemoveAbandoned: %v", err)
		}
	})
}
