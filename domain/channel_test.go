package domain_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/ports"
)

// plain hides the memory storage's Addressable views, so the domain takes
// its interface path (ReadAt, WriteAt, LoadUint64, StoreUint64).
type plain struct{ ports.Storage }

// backends runs f once on a storage the domain addresses directly and once
// on one it reaches only through the Storage methods.
func backends(t *testing.T, f func(t *testing.T, wrap func(*memory.Storage) ports.Storage)) {
	t.Run("addressable", func(t *testing.T) { f(t, func(s *memory.Storage) ports.Storage { return s }) })
	t.Run("interface", func(t *testing.T) { f(t, func(s *memory.Storage) ports.Storage { return plain{s} }) })
}

// small is a minimum-capacity channel whose max record length is 112.
func small(t *testing.T) domain.Header {
	t.Helper()
	h, err := domain.NewHeader(domain.Hints{WriterID: 1, ChannelID: 2, Capacity: 16384, MaxMsgLen: 100, Timeout: 1000, TickUnit: domain.Millis, Clock: fixedClock})
	if err != nil {
		t.Fatal(err)
	}
	if h.MaxMsgLen != 112 {
		t.Fatalf("max %d", h.MaxMsgLen)
	}
	return h
}

func mustReader(t testing.TB, st ports.Storage, opts ...domain.ReaderOption) *domain.Reader {
	t.Helper()
	r, err := domain.NewReader(st, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

type record struct {
	pos  uint64
	data string
}

// readAll reads everything available and returns the records and the end.
func readAll(t *testing.T, r *domain.Reader) ([]record, error) {
	t.Helper()
	var got []record
	_, err := r.Read(func(rec domain.Record) error {
		pos, p := rec.Position, rec.Payload
		got = append(got, record{pos, string(p)})
		return nil
	}, 0)
	return got, err
}

func payload(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i)
	}
	return b
}

func TestWriterAndReaderEdges(t *testing.T) {
	backends(t, func(t *testing.T, wrap func(*memory.Storage) ports.Storage) {
		h := small(t)
		mem := memory.New(h.FileSize())
		w, err := domain.NewWriter(wrap(mem), h, codecs.Raw{})
		if err != nil {
			t.Fatal(err)
		}
		var he *domain.HeaderError
		if _, err := domain.NewReader(wrap(memory.FromImage(nil))); !errors.As(err, &he) || he.Field != "length" {
			t.Fatalf("reader on an empty storage: %v", err)
		}
		r := mustReader(t, wrap(mem.Share()))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := readAll(t, r); len(got) != 0 || err != domain.ErrNothingYet || r.Position() != 8 {
			t.Fatalf("fresh channel: %v %v at %d", got, err, r.Position())
		}
		if w.WriteOffset() != 8 || w.Available() != 16376 {
			t.Fatalf("fresh writer at %d with %d available", w.WriteOffset(), w.Available())
		}

		// Exactly the max length, then one byte over.
		if n, err := w.Write(payload(112, 1)); n != 120 || err != nil {
			t.Fatalf("max-length record: %d, %v", n, err)
		}
		before := mem.Image()
		if n, err := w.Write(payload(113, 1)); n != 0 || !errors.Is(err, domain.ErrRecordTooLarge) {
			t.Fatalf("max+1 record: %d, %v", n, err)
		}
		if n, err := w.Write(nil); n != 0 || !errors.Is(err, domain.ErrEmptyPayload) {
			t.Fatalf("empty record: %d, %v", n, err)
		}
		if !bytes.Equal(before, mem.Image()) || w.WriteOffset() != 128 {
			t.Fatal("a refused write changed the channel")
		}
		if n, err := w.Write([]byte("abc")); n != 16 || err != nil {
			t.Fatalf("small record: %d, %v", n, err)
		}
		got, err := readAll(t, r)
		want := []record{{8, string(payload(112, 1))}, {128, "abc"}}
		if !slices.Equal(got, want) || err != domain.ErrNothingYet {
			t.Fatalf("got %v, %v", got, err)
		}

		// Fill so that the last record ends exactly at the capacity.
		for w.Available() > 120 {
			if _, err := w.Write(payload(112, byte(w.WriteOffset()))); err != nil {
				t.Fatal(err)
			}
		}
		last := int(w.Available()) - 8 // a payload that fills the channel exactly
		if last > 112 || last < 1 {
			t.Fatalf("bad setup: %d left", w.Available())
		}
		// More than the space left but within the max length: no space,
		// which is neither too large nor full.
		if last < 112 {
			_, err := w.Write(payload(last+1, 9))
			if !errors.Is(err, domain.ErrNoSpace) || errors.Is(err, domain.ErrRecordTooLarge) || errors.Is(err, domain.ErrChannelFull) {
				t.Fatalf("record past the space left: %v", err)
			}
			// More than the max length: too large, whatever the space left.
			_, err = w.Write(payload(113, 9))
			if !errors.Is(err, domain.ErrRecordTooLarge) || errors.Is(err, domain.ErrNoSpace) {
				t.Fatalf("record past the max length near the end: %v", err)
			}
		}
		lastPos := uint64(w.WriteOffset())
		if _, err := w.Write(payload(last, 9)); err != nil {
			t.Fatal(err)
		}
		if w.WriteOffset() != 16384 || w.Available() != 0 {
			t.Fatalf("writer at %d", w.WriteOffset())
		}
		if _, err := w.Write([]byte("x")); !errors.Is(err, domain.ErrChannelFull) {
			t.Fatalf("write when full: %v", err)
		}
		if _, err := w.Heartbeat(); !errors.Is(err, domain.ErrChannelFull) {
			t.Fatalf("heartbeat when full: %v", err)
		}
		got, err = readAll(t, r)
		if len(got) == 0 || got[len(got)-1] != (record{lastPos, string(payload(last, 9))}) {
			t.Fatalf("record ending at the capacity not handed out: %v", got[len(got)-1:])
		}
		var re *domain.ReadError
		if !errors.Is(err, domain.ErrChannelFull) || !errors.As(err, &re) || re.Position != 16384 {
			t.Fatalf("end %v", err)
		}

		// Close: mark in the footer, second close harmless, use after close.
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatalf("second close: %v", err)
		}
		if binary.LittleEndian.Uint64(mem.Bytes()[domain.DataOffset+16384:]) != domain.CloseMark {
			t.Fatal("no close mark in the footer")
		}
		if _, err := w.Write([]byte("x")); !errors.Is(err, domain.ErrWriterClosed) {
			t.Fatalf("write after close: %v", err)
		}
		if _, err := w.Heartbeat(); !errors.Is(err, domain.ErrWriterClosed) {
			t.Fatalf("heartbeat after close: %v", err)
		}
		if err := w.Flush(); !errors.Is(err, domain.ErrWriterClosed) {
			t.Fatalf("flush after close: %v", err)
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Read(func(domain.Record) error { return nil }, 0); !errors.Is(err, domain.ErrReaderClosed) {
			t.Fatalf("read after close: %v", err)
		}
		if err := r.MoveTo(0); !errors.Is(err, domain.ErrReaderClosed) {
			t.Fatalf("move after close: %v", err)
		}
		if err := r.Close(); err != nil {
			t.Fatalf("second reader close: %v", err)
		}
	})
}

// TestMoveToPastTheEndSaysWhy: past a full channel's end, MoveTo's error
// matches ErrUnavailable and the read end it met.
func TestMoveToPastTheEndSaysWhy(t *testing.T) {
	h := small(t)
	mem := memory.New(h.FileSize())
	w, _ := domain.NewWriter(mem.Share(), h, codecs.Raw{})
	for {
		if _, err := w.Heartbeat(); err != nil {
			break
		}
	}
	r := mustReader(t, mem)
	err := r.MoveTo(16384 + 64)
	if !errors.Is(err, domain.ErrUnavailable) || !errors.Is(err, domain.ErrChannelFull) {
		t.Fatalf("MoveTo past a full channel: %v", err)
	}
}

func TestFillWithHeartbeats(t *testing.T) {
	backends(t, func(t *testing.T, wrap func(*memory.Storage) ports.Storage) {
		h := small(t)
		mem := memory.New(h.FileSize())
		w, _ := domain.NewWriter(wrap(mem), h, codecs.Raw{})
		beats := 0
		for {
			n, err := w.Heartbeat()
			if errors.Is(err, domain.ErrChannelFull) {
				break
			}
			if err != nil || n != 8 {
				t.Fatal(n, err)
			}
			beats++
		}
		// Positions 8 .. 16368 hold heartbeats; at 16376 only 8 bytes are left.
		if beats != (16376-8)/8 || w.WriteOffset() != 16376 || w.Available() != 8 {
			t.Fatalf("%d heartbeats, writer at %d", beats, w.WriteOffset())
		}
		if _, err := w.Write([]byte("x")); !errors.Is(err, domain.ErrChannelFull) {
			t.Fatalf("write: %v", err)
		}
		w.Close()
		r := mustReader(t, wrap(mem.Share()))
		n, err := r.Read(func(domain.Record) error { t.Fatal("a heartbeat was handed out"); return nil }, 0)
		if n != 16376 || !errors.Is(err, domain.ErrChannelFull) {
			t.Fatalf("read %d, %v", n, err)
		}
	})
}

func TestReadEndsClosed(t *testing.T) {
	backends(t, func(t *testing.T, wrap func(*memory.Storage) ports.Storage) {
		h := small(t)
		mem := memory.New(h.FileSize())
		w, _ := domain.NewWriter(wrap(mem), h, codecs.Raw{})
		w.Write([]byte("one"))
		w.Heartbeat()
		w.Write([]byte("two"))
		w.Close()
		r := mustReader(t, wrap(mem.Share()))
		got, err := readAll(t, r)
		var re *domain.ReadError
		if !slices.Equal(got, []record{{8, "one"}, {32, "two"}}) || !errors.As(err, &re) || re.Err != domain.ErrClosed || re.Position != 48 || re.BytesRead != 48 {
			t.Fatalf("%v %#v", got, err)
		}
		// Reading again: still closed, nothing more read.
		if n, err := r.Read(func(domain.Record) error { return nil }, 0); n != 0 || !errors.Is(err, domain.ErrClosed) {
			t.Fatalf("again: %d %v", n, err)
		}
	})
}

func TestReadMax(t *testing.T) {
	backends(t, func(t *testing.T, wrap func(*memory.Storage) ports.Storage) {
		h := small(t)
		mem := memory.New(h.FileSize())
		w, _ := domain.NewWriter(wrap(mem), h, codecs.Raw{})
		for i := range 5 {
			w.Heartbeat()
			w.Write([]byte{byte(i)})
		}
		r := mustReader(t, wrap(mem.Share()))
		var got []byte
		h1 := func(rec domain.Record) error { p := rec.Payload; got = append(got, p...); return nil }
		if n, err := r.Read(h1, 2); err != nil || n != 8+2*(8+16) || !bytes.Equal(got, []byte{0, 1}) {
			t.Fatalf("first two: %d %v %v", n, err, got)
		}
		if n, err := r.Read(h1, 3); err != nil || n != 3*24 || !bytes.Equal(got, []byte{0, 1, 2, 3, 4}) {
			t.Fatalf("next three: %d %v %v", n, err, got)
		}
		if n, err := r.Read(h1, 3); n != 0 || err != domain.ErrNothingYet {
			t.Fatalf("caught up: %d %v", n, err)
		}
	})
}

func TestMoveTo(t *testing.T) {
	backends(t, func(t *testing.T, wrap func(*memory.Storage) ports.Storage) {
		h := small(t)
		mem := memory.New(h.FileSize())
		w, _ := domain.NewWriter(wrap(mem), h, codecs.Raw{})
		w.Write([]byte("a"))    // 8..24
		w.Write(payload(20, 0)) // 24..56
		w.Heartbeat()           // 56..64
		w.Write([]byte("c"))    // 64..80
		r := mustReader(t, wrap(mem.Share()))
		for _, tc := range []struct {
			pos  uint64
			want error
			next string
		}{
			{24, nil, string(payload(20, 0))},
			{64, nil, "c"},
			{8, nil, "a"},                   // backwards: replay
			{56, nil, "c"},                  // onto a heartbeat
			{0, nil, "a"},                   // the first heartbeat
			{80, nil, ""},                   // the writer's end: nothing yet
			{32, domain.ErrUnaligned, ""},   // inside a record
			{12, domain.ErrUnaligned, ""},   // not a multiple of 8
			{88, domain.ErrUnavailable, ""}, // past the end
			{1 << 20, domain.ErrUnavailable, ""},
		} {
			t.Run(fmt.Sprint(tc.pos), func(t *testing.T) {
				r.MoveTo(40 - 16) // somewhere valid first
				before := r.Position()
				err := r.MoveTo(tc.pos)
				if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
					t.Fatalf("MoveTo(%d) = %v, want %v", tc.pos, err, tc.want)
				}
				if errors.Is(err, domain.ErrNothingYet) {
					t.Fatalf("MoveTo(%d) = %v also matches ErrNothingYet", tc.pos, err)
				}
				if err != nil {
					if r.Position() != before {
						t.Fatalf("failed MoveTo moved the reader to %d", r.Position())
					}
					return
				}
				if r.Position() != tc.pos {
					t.Fatalf("at %d", r.Position())
				}
				got, _ := readAll(t, r)
				if (len(got) == 0) != (tc.next == "") || (len(got) > 0 && got[0].data != tc.next) {
					t.Fatalf("after MoveTo(%d) read %v, want first %q", tc.pos, got, tc.next)
				}
			})
		}
	})
}

type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }

func TestReadTimeout(t *testing.T) {
	backends(t, func(t *testing.T, wrap func(*memory.Storage) ports.Storage) {
		h := small(t) // timeout 1000 ms
		mem := memory.New(h.FileSize())
		w, _ := domain.NewWriter(wrap(mem), h, codecs.Raw{})
		clock := &fakeClock{now: fixedNow}
		r := mustReader(t, wrap(mem.Share()), domain.WithClock(clock.Now))
		empty := func(at time.Duration) error {
			clock.now = fixedNow.Add(at)
			_, err := r.Read(func(domain.Record) error { return nil }, 0)
			return err
		}
		if err := empty(0); err != domain.ErrNothingYet { // reads the first heartbeat
			t.Fatal(err)
		}
		if err := empty(time.Hour); err != domain.ErrNothingYet { // starts the clock
			t.Fatal(err)
		}
		if err := empty(time.Hour + time.Second); err != domain.ErrNothingYet { // exactly the timeout
			t.Fatal(err)
		}
		err := empty(time.Hour + time.Second + 1)
		var re *domain.ReadError
		if !errors.As(err, &re) || re.Err != domain.ErrTimeout || re.Position != 8 {
			t.Fatalf("past the timeout: %v", err)
		}
		// A heartbeat revives the channel and resets the clock.
		w.Heartbeat()
		if err := empty(2 * time.Hour); err != domain.ErrNothingYet {
			t.Fatalf("after a heartbeat: %v", err)
		}
		if err := empty(2*time.Hour + 500*time.Millisecond); err != domain.ErrNothingYet {
			t.Fatal(err)
		}
		if err := empty(2*time.Hour + 1500*time.Millisecond); err != domain.ErrNothingYet {
			t.Fatalf("clock not restarted by the heartbeat: %v", err)
		}
		if err := empty(2*time.Hour + 2600*time.Millisecond); !errors.Is(err, domain.ErrTimeout) {
			t.Fatalf("second timeout: %v", err)
		}
		// The iterator keeps the same clock.
		for range r.Records() {
			t.Fatal("record from an idle channel")
		}
		if !errors.Is(r.Err(), domain.ErrTimeout) {
			t.Fatalf("iterator: %v", r.Err())
		}
	})
}

// image builds a channel image by hand: header, then the given words and
// payload bytes at data positions.
func image(h domain.Header, size int, words map[uint64]uint64) []byte {
	b := make([]byte, size)
	hb, _ := h.MarshalBinary()
	copy(b, hb)
	for pos, w := range words {
		binary.LittleEndian.PutUint64(b[domain.DataOffset+pos:], w)
	}
	return b
}

func TestReadCorruptAndTruncated(t *testing.T) {
	h := small(t)
	full := int(h.FileSize())
	for _, tc := range []struct {
		name     string
		size     int
		words    map[uint64]uint64
		want     error
		pos      uint64
		word     uint64
		nRecords int
	}{
		{"length above max", full, map[uint64]uint64{0: 0, 8: 3, 24: 113}, domain.ErrCorrupt, 24, 113, 1},
		{"zeros are heartbeats up to the end", full, nil, domain.ErrChannelFull, 16376, 0, 0},
		{"record crossing the capacity", full, map[uint64]uint64{16360: 100}, domain.ErrCorrupt, 16360, 100, 0},
		{"header only", domain.HeaderLen, nil, domain.ErrTruncated, 0, 0, 0},
		{"cut inside a length word", domain.DataOffset + 28, map[uint64]uint64{8: 3}, domain.ErrTruncated, 24, 0, 1},
		{"cut inside a payload", domain.DataOffset + 40, map[uint64]uint64{8: 3, 24: 50}, domain.ErrTruncated, 24, 50, 1},
		{"cut inside the padding", domain.DataOffset + 36, map[uint64]uint64{8: 3, 24: 3}, domain.ErrTruncated, 24, 3, 1},
		{"crate-sized file", 16384 + 160, map[uint64]uint64{15512: 0}, domain.ErrTruncated, 15520, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.words == nil {
				tc.words = map[uint64]uint64{}
			}
			img := image(h, tc.size, tc.words)
			r, err := domain.NewReader(memory.FromImage(img))
			if err != nil {
				t.Fatal(err)
			}
			got, err := readAll(t, r)
			var re *domain.ReadError
			if !errors.As(err, &re) || re.Err != tc.want || re.Position != tc.pos || re.Word != tc.word || len(got) != tc.nRecords {
				t.Fatalf("got %d records, %#v; want %d, %v at %d word %d", len(got), err, tc.nRecords, tc.want, tc.pos, tc.word)
			}
			if err.Error() == "" {
				t.Fatal("empty message")
			}
		})
	}
}

// failing is an encoder that scribbles over its room and then fails, or
// claims more bytes than it was given.
type failing struct {
	codecs.Raw
	claim int
}

var errBoom = errors.New("boom")

// Verbatim: failing embeds Raw for its id and media type, but its Encode
// is its own, so it must not inherit Raw's Verbatim.
func (failing) Verbatim() bool { return false }

func (f failing) Encode(dst []byte, v []byte) (int, error) {
	for i := range dst {
		dst[i] = 0xEE
	}
	if f.claim > 0 {
		return f.claim, nil
	}
	return 0, errBoom
}

func TestEncoderFailurePublishesNothing(t *testing.T) {
	backends(t, func(t *testing.T, wrap func(*memory.Storage) ports.Storage) {
		h := small(t)
		for _, enc := range []failing{{}, {claim: 1000}} {
			mem := memory.New(h.FileSize())
			w, _ := domain.NewWriter(wrap(mem), h, codecs.Encoder[[]byte](enc))
			before := mem.Image()
			_, err := w.Write([]byte("x"))
			if !errors.Is(err, domain.ErrEncoding) || (enc.claim == 0 && !errors.Is(err, errBoom)) {
				t.Fatalf("claim %d: %v", enc.claim, err)
			}
			if !bytes.Equal(before, mem.Image()) || w.WriteOffset() != 8 {
				t.Fatalf("claim %d: failed encoding left bytes behind", enc.claim)
			}
		}
	})
}

func TestTextFormat(t *testing.T) {
	h := small(t)
	mem := memory.New(h.FileSize())
	w, _ := domain.NewWriter(mem, h, codecs.Text{})
	if w.Format().ID() != 3 || w.Format().MediaType() != "text/plain" {
		t.Fatalf("format %v", w.Format())
	}
	if _, err := w.Write("héllo, 世界"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write("bad \xff byte"); !errors.Is(err, domain.ErrEncoding) || !errors.Is(err, codecs.ErrInvalidText) {
		t.Fatalf("invalid UTF-8: %v", err)
	}
	if _, err := w.Write(""); !errors.Is(err, domain.ErrEmptyPayload) {
		t.Fatalf("empty string: %v", err)
	}
	r := mustReader(t, mem.Share())
	got, _ := readAll(t, r)
	if len(got) != 1 || got[0].data != "héllo, 世界" {
		t.Fatalf("%v", got)
	}
}

func TestRecordsIterator(t *testing.T) {
	backends(t, func(t *testing.T, wrap func(*memory.Storage) ports.Storage) {
		h := small(t)
		mem := memory.New(h.FileSize())
		w, _ := domain.NewWriter(wrap(mem), h, codecs.Raw{})
		for i := range 4 {
			w.Write([]byte{'a' + byte(i)})
		}
		r := mustReader(t, wrap(mem.Share()))
		var got []record
		for rec := range r.Records() {
			pos, p := rec.Position, rec.Payload
			got = append(got, record{pos, string(p)})
			if len(got) == 2 {
				break
			}
		}
		if !slices.Equal(got, []record{{8, "a"}, {24, "b"}}) || r.Position() != 40 || r.Err() != nil {
			t.Fatalf("broken loop: %v at %d, %v", got, r.Position(), r.Err())
		}
		for rec := range r.Records() {
			pos, p := rec.Position, rec.Payload
			got = append(got, record{pos, string(p)})
		}
		if len(got) != 4 || got[3] != (record{56, "d"}) || r.Err() != nil {
			t.Fatalf("caught up: %v, %v", got, r.Err())
		}
		w.Close()
		for range r.Records() {
			t.Fatal("record after close")
		}
		if !errors.Is(r.Err(), domain.ErrClosed) {
			t.Fatalf("after close: %v", r.Err())
		}
		r.Close()
		for range r.Records() {
		}
		if !errors.Is(r.Err(), domain.ErrReaderClosed) {
			t.Fatalf("closed reader: %v", r.Err())
		}
	})
}

// TestPaddingIsZeroed writes over memory that is not zero (a reused region)
// and checks that each record's padding is zeroed all the same.
func TestPaddingIsZeroed(t *testing.T) {
	backends(t, func(t *testing.T, wrap func(*memory.Storage) ports.Storage) {
		h := small(t)
		mem := memory.New(h.FileSize())
		for i := range mem.Bytes() {
			mem.Bytes()[i] = 0xAB
		}
		w, err := domain.NewWriter(wrap(mem), h, codecs.Raw{})
		if err != nil {
			t.Fatal(err)
		}
		for n := 1; n <= 16; n++ {
			if _, err := w.Write(bytes.Repeat([]byte{'p'}, n)); err != nil {
				t.Fatal(err)
			}
		}
		data := mem.Bytes()[domain.DataOffset:]
		pos := 8
		for n := 1; n <= 16; n++ {
			if got := binary.LittleEndian.Uint64(data[pos:]); got != uint64(n) {
				t.Fatalf("length word %d at %d, want %d", got, pos, n)
			}
			size := int(domain.RecordSize(uint64(n)))
			want := append(bytes.Repeat([]byte{'p'}, n), make([]byte, size-8-n)...)
			if got := data[pos+8 : pos+size]; !bytes.Equal(got, want) {
				t.Fatalf("record of %d bytes: % x", n, got)
			}
			pos += size
		}
		if binary.LittleEndian.Uint64(data[pos:]) != domain.Watermark {
			t.Fatal("no watermark after the last record")
		}
	})
}
