package domain_test

import (
	"encoding/binary"
	"errors"
	"runtime"
	"sync"
	"testing"

	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/ports"
)

// TestOneWriterEightReaders runs a writer goroutine and 8 reader goroutines
// over one memory channel; under -race it also checks that the publication
// protocol orders the payload bytes before the length word.
func TestOneWriterEightReaders(t *testing.T) {
	const records, readers = 1_000_000, 8
	h, err := domain.NewHeader(domain.Hints{WriterID: 1, ChannelID: 77, Capacity: records*16 + 64, MaxMsgLen: 8, Timeout: 3600, TickUnit: domain.Secs})
	if err != nil {
		t.Fatal(err)
	}
	vol := memory.NewVolume()
	w, err := domain.Create(vol, h, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, readers+1)
	for range readers {
		r, err := domain.Open(vol, 77)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.Close()
			var next uint64
			var bad error
			check := func(rec domain.Record) error {
				pos, p := rec.Position, rec.Payload
				if bad == nil && (len(p) != 8 || binary.LittleEndian.Uint64(p) != next || pos != 8+16*next) {
					bad = errors.New("record out of order or damaged")
				}
				next++
				return nil
			}
			for {
				_, err := r.Read(check, 256)
				switch {
				case bad != nil:
					errs <- bad
					return
				case err == nil:
				case err == domain.ErrNothingYet:
					runtime.Gosched()
				case errors.Is(err, domain.ErrClosed):
					if next != records {
						errs <- errors.New("reader stopped early")
					}
					return
				default:
					errs <- err
					return
				}
			}
		}()
	}
	buf := make([]byte, 8)
	for i := range uint64(records) {
		binary.LittleEndian.PutUint64(buf, i)
		if _, err := w.Write(buf); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestVolumeCreateAndOpen(t *testing.T) {
	vol := memory.NewVolume()
	h := small(t)
	if _, err := domain.Open(vol, h.ChannelID); !errors.Is(err, ports.ErrChannelNotFound) {
		t.Fatalf("open of a missing channel: %v", err)
	}
	w, err := domain.Create(vol, h, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := domain.Create(vol, h, codecs.Raw{}); !errors.Is(err, ports.ErrChannelExists) {
		t.Fatalf("second writer: %v", err)
	}
	w.Write([]byte("hi"))
	r, err := domain.Open(vol, h.ChannelID)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := readAll(t, r)
	if len(got) != 1 || got[0].data != "hi" {
		t.Fatalf("%v", got)
	}
	// An invalid header is refused before anything is created.
	bad := h
	bad.ChannelID, bad.Capacity = 99, 100
	if _, err := domain.Create(vol, bad, codecs.Raw{}); !errors.Is(err, domain.ErrInvalidHeader) {
		t.Fatalf("bad header: %v", err)
	}
	if ids, _ := vol.List(); len(ids) != 1 || ids[0] != h.ChannelID {
		t.Fatalf("list %v", ids)
	}
}
