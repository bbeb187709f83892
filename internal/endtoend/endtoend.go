// Package endtoend runs the domain on a backend's volume, end to end:
// create a channel, write records, open it, follow and replay it, close it.
// It is the part of a backend's conformance test that needs the domain;
// ports/porttest checks the ports' contracts alone. Each adapter's
// conformance test calls both:
//
//	func TestConformance(t *testing.T) {
//		newVolume := func(*testing.T) ports.Volume { return memory.NewVolume() }
//		porttest.Run(t, porttest.Harness{NewVolume: newVolume})
//		endtoend.Run(t, newVolume)
//	}
package endtoend

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/ports"
)

// Run runs the domain on a new volume from newVolume, in the subtest
// EndToEnd of t.
func Run(t *testing.T, newVolume func(t *testing.T) ports.Volume) {
	t.Run("EndToEnd", func(t *testing.T) { run(t, newVolume(t)) })
}

// run runs the domain on vol: create a channel, write a few records, open
// it, read them back, close it.
func run(t *testing.T, vol ports.Volume) {
	const id = 0xC2
	hdr, err := domain.NewHeader(domain.Hints{
		WriterID: 1850, ChannelID: id, Capacity: domain.MinCapacity, MaxMsgLen: 100,
		Timeout: 3600, TickUnit: domain.Secs,
	})
	if err != nil {
		t.Fatal(err)
	}
	w, err := domain.Create(vol, hdr, codecs.Raw{})
	if err != nil {
		t.Fatalf("domain.Create: %v", err)
	}
	t.Cleanup(func() { w.Close() })
	if _, err := domain.Create(vol, hdr, codecs.Raw{}); !errors.Is(err, ports.ErrChannelExists) {
		t.Errorf("second domain.Create: %v, want ErrChannelExists", err)
	}
	live, err := domain.Open(vol, id)
	if err != nil {
		t.Fatalf("domain.Open: %v", err)
	}
	t.Cleanup(func() { live.Close() })
	if live.Header() != hdr {
		t.Errorf("reader's header %+v, writer's %+v", live.Header(), hdr)
	}

	type record struct {
		Pos     uint64
		Payload string
	}
	read := func(r *domain.Reader) ([]record, error) {
		var got []record
		_, err := r.Read(func(rec domain.Record) error {
			pos, p := rec.Position, rec.Payload
			got = append(got, record{pos, string(p)})
			return nil
		}, 0)
		return got, err
	}
	if got, err := read(live); len(got) != 0 || !errors.Is(err, domain.ErrNothingYet) {
		t.Errorf("reading a new channel: %v, %v; want nothing, ErrNothingYet", got, err)
	}

	// The first heartbeat takes position 0.
	want := []record{{8, "a"}, {24, "hello, world"}, {48, strings.Repeat("0123456789", 10)}, {168, "last"}}
	sizes := []int{16, 24, 112, 16}
	for i, rec := range want {
		if i == 3 {
			if n, err := w.Heartbeat(); n != 8 || err != nil {
				t.Errorf("Heartbeat() = %d, %v; want 8, nil", n, err)
			}
		}
		if n, err := w.Write([]byte(rec.Payload)); n != sizes[i] || err != nil {
			t.Errorf("Write(%d bytes) = %d, %v; want %d, nil", len(rec.Payload), n, err, sizes[i])
		}
	}
	if got, err := read(live); !slices.Equal(got, want) || !errors.Is(err, domain.ErrNothingYet) {
		t.Errorf("following reader read %v, %v; want %v, ErrNothingYet", got, err, want)
	}
	replay, err := domain.Open(vol, id)
	if err != nil {
		t.Fatalf("second domain.Open: %v", err)
	}
	t.Cleanup(func() { replay.Close() })
	if got, err := read(replay); !slices.Equal(got, want) || !errors.Is(err, domain.ErrNothingYet) {
		t.Errorf("new reader read %v, %v; want %v, ErrNothingYet", got, err, want)
	}

	if err := w.Close(); err != nil {
		t.Errorf("writer's Close() = %v", err)
	}
	if got, err := read(live); len(got) != 0 || !errors.Is(err, domain.ErrClosed) {
		t.Errorf("after the writer closed, the reader read %v, %v; want nothing, ErrClosed", got, err)
	}
	if err := replay.MoveTo(0); err != nil {
		t.Errorf("MoveTo(0) = %v", err)
	}
	if got, err := read(replay); !slices.Equal(got, want) || !errors.Is(err, domain.ErrClosed) {
		t.Errorf("replay after close read %v, %v; want %v, ErrClosed", got, err, want)
	}
	if live.Position() != 184 {
		t.Errorf("reader at position %d at the end, want 184", live.Position())
	}
	for _, r := range []*domain.Reader{live, replay} {
		if err := r.Close(); err != nil {
			t.Errorf("reader's Close() = %v", err)
		}
	}
}
