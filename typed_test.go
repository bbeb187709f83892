package kekbit_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/spf13/afero"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/kekbit-go/kekbit"
	"github.com/kekbit-go/kekbit/adapters/file"
	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/codecs/protocodec"
	"github.com/kekbit-go/kekbit/internal/testdir"
	"github.com/kekbit-go/kekbit/ports"
)

// everyBackend runs f on a fresh volume of each backend.
func everyBackend(t *testing.T, f func(t *testing.T, vol ports.Volume)) {
	backends := []struct {
		name string
		vol  func(t *testing.T) ports.Volume
	}{
		{"memory", func(*testing.T) ports.Volume { return memory.NewVolume() }},
		{"file/MemMapFs", func(*testing.T) ports.Volume { return file.NewVolume(afero.NewMemMapFs(), "/ch") }},
		{"file/OsFs", func(t *testing.T) ports.Volume { return file.NewVolume(afero.NewOsFs(), testdir.New(t)) }},
		{"mmap", func(t *testing.T) ports.Volume { return mmap.NewVolume(testdir.New(t)) }},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { f(t, b.vol(t)) })
	}
}

// order is what the typed tests write.
type order struct {
	ID    int      `json:"id"`
	Item  string   `json:"item"`
	Price float64  `json:"price"`
	Tags  []string `json:"tags,omitempty"`
}

func typedHeader(t testing.TB, id uint64) kekbit.Header {
	h, err := kekbit.NewHeader(kekbit.Hints{ChannelID: id, Capacity: 1 << 16, MaxMsgLen: 256, Timeout: 60, TickUnit: kekbit.Secs})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// roundTrip writes vals through enc into a new channel of vol, reads them
// back through dec and returns what it read, checking positions.
func roundTrip[T any](t *testing.T, vol ports.Volume, id uint64, enc codecs.Encoder[T], dec codecs.Decoder[T], vals []T) []T {
	t.Helper()
	w, err := kekbit.Create(vol, typedHeader(t, id), enc)
	if err != nil {
		t.Fatal(err)
	}
	var ends []uint64
	for _, v := range vals {
		if _, err := w.Write(v); err != nil {
			t.Fatalf("Write(%v): %v", v, err)
		}
		ends = append(ends, uint64(w.WriteOffset()))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := kekbit.Open(vol, id)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got []T
	for v, err := range kekbit.Decode(r.Records(), dec) {
		if err != nil {
			t.Fatalf("value %d: %v", len(got), err)
		}
		if i := len(got); i >= len(ends) || v.Next != ends[i] || r.Position() != v.Next {
			t.Fatalf("value %d ends at %d, reader at %d; the writer ended it at %v", i, v.Next, r.Position(), ends)
		}
		got = append(got, v.Value)
	}
	if err := r.Err(); !errorsIsClosed(err) {
		t.Fatalf("read ended with %v, want ErrClosed", err)
	}
	return got
}

func errorsIsClosed(err error) bool {
	var re *kekbit.ReadError
	return errors.As(err, &re) && re.Err == kekbit.ErrClosed
}

// TestTypedRoundTrips: values written through the JSON and protobuf codecs
// read back equal through kekbit.Decode, on every backend.
func TestTypedRoundTrips(t *testing.T) {
	everyBackend(t, func(t *testing.T, vol ports.Volume) {
		t.Run("JSON", func(t *testing.T) {
			var vals []order
			for i := range 50 {
				vals = append(vals, order{ID: i, Item: fmt.Sprintf("item %d ☕", i), Price: float64(i) / 4, Tags: make([]string, i%3)})
			}
			got := roundTrip(t, vol, 1, codecs.JSON[order]{}, codecs.JSON[order]{}, vals)
			if fmt.Sprint(got) != fmt.Sprint(vals) {
				t.Fatalf("read %v\nwrote %v", got, vals)
			}
		})
		t.Run("Proto", func(t *testing.T) {
			var vals []*structpb.Struct
			for i := range 50 {
				s, err := structpb.NewStruct(map[string]any{"id": i, "item": fmt.Sprintf("item %d", i), "ok": i%2 == 0})
				if err != nil {
					t.Fatal(err)
				}
				vals = append(vals, s)
			}
			format := protocodec.Proto[*structpb.Struct]{}
			got := roundTrip(t, vol, 2, format, format, vals)
			if len(got) != len(vals) {
				t.Fatalf("read %d values, wrote %d", len(got), len(vals))
			}
			for i := range vals {
				if !proto.Equal(got[i], vals[i]) {
					t.Fatalf("value %d: read %v, wrote %v", i, got[i], vals[i])
				}
			}
		})
	})
}

// TestDecodeError: a payload the decoder refuses is yielded with an error
// that names the position, and the loop goes on.
func TestDecodeError(t *testing.T) {
	vol := memory.NewVolume()
	w, err := kekbit.Create(vol, typedHeader(t, 3), codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{`{"id":1}`, `not json`, `{"id":3}`} {
		w.Write([]byte(p))
	}
	w.Close()
	r, err := kekbit.Open(vol, 3)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int
	var bad []uint64
	for v, err := range kekbit.Decode(r.Records(), codecs.JSON[order]{}) {
		if err != nil {
			if !errors.Is(err, kekbit.ErrDecoding) {
				t.Fatalf("decode error %v does not match ErrDecoding", err)
			}
			bad = append(bad, v.Position)
			continue
		}
		ids = append(ids, v.Value.ID)
	}
	if fmt.Sprint(ids) != "[1 3]" || fmt.Sprint(bad) != "[24]" {
		t.Fatalf("ids %v, refused at %v; want [1 3] and [24]", ids, bad)
	}
}

// TestTypedWritesAllocateNothingOfOurs: through the writer, a protobuf
// message without maps and a JSON value behind a pointer encode with no
// allocation, on the memory and mmap backends (protobuf's map fields and
// encoding/json's interface conversion of a value are the libraries' own
// allocations; see the codecs benchmarks).
func TestTypedWritesAllocateNothingOfOurs(t *testing.T) {
	vols := map[string]ports.Volume{"memory": memory.NewVolume(), "mmap": mmap.NewVolume(testdir.New(t))}
	for name, vol := range vols {
		t.Run(name, func(t *testing.T) {
			h := typedHeader(t, 4)
			h.Capacity = 1 << 22
			h.MaxMsgLen = 256
			pw, err := kekbit.Create(vol, h, protocodec.Proto[*timestamppb.Timestamp]{})
			if err != nil {
				t.Fatal(err)
			}
			defer pw.Close()
			ts := timestamppb.New(time.Unix(1_700_000_000, 123))
			if a := testing.AllocsPerRun(1000, func() {
				if _, err := pw.Write(ts); err != nil {
					t.Fatal(err)
				}
			}); a != 0 {
				t.Errorf("Proto Write: %v allocations", a)
			}
			if raceEnabled {
				return // sync.Pool, which encoding/json uses, drops items under -race
			}
			h.ChannelID = 5
			jw, err := kekbit.Create(vol, h, codecs.JSON[*order]{})
			if err != nil {
				t.Fatal(err)
			}
			defer jw.Close()
			o := &order{ID: 7, Item: "tea", Price: 2.5}
			if a := testing.AllocsPerRun(1000, func() {
				if _, err := jw.Write(o); err != nil {
					t.Fatal(err)
				}
			}); a != 0 {
				t.Errorf("JSON Write: %v allocations", a)
			}
		})
	}
}
