package kekbit_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"os"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit"
	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/internal/testdir"
	"github.com/kekbit-go/kekbit/internal/vectortest"
)

// crateView is what the Rust crate's reader makes of a channel file: the
// header fields it reads (bytes 0..127; it never looks at 128..1023), the
// messages it hands out and how its read ends ("Closed", "ChannelFull",
// "none" at a watermark, or "Failed" for a length above the max).
type crateView struct {
	capacity, maxMsg uint64
	tickUnit         byte
	msgs             []vectortest.Message
	final            string
	pos              uint64
}

// crateRead parses img by the crate's rules, with nothing of this module's
// code: the 128-byte header, then from file offset 1024 length words
// (little endian), each a message of that many bytes padded to 8, a
// heartbeat (0, skipped), the watermark 0xFFFF_FFFF_1111_1111 or the close
// mark 0xFFFF_FFFF_FFFF_FFFF; a word above the max message length fails the
// read; a message that does not end before the capacity is not handed out
// (the crate drops one that ends exactly at it).
func crateRead(t *testing.T, img []byte) crateView {
	t.Helper()
	le := binary.LittleEndian
	if len(img) < 128 || string(img[:8]) != "*KEKBIT*" {
		t.Fatalf("not a kekbit file: % x", img[:min(len(img), 8)])
	}
	if v := le.Uint64(img[8:]); v>>48 != 1 {
		t.Fatalf("version %#x: the crate reads major version 1", v)
	}
	c := crateView{capacity: uint64(le.Uint32(img[32:])), maxMsg: uint64(le.Uint32(img[36:])), tickUnit: img[56]}
	const data = 1024
	for {
		if c.pos+8 >= c.capacity {
			c.final = "ChannelFull"
			return c
		}
		if data+c.pos+8 > uint64(len(img)) {
			t.Fatalf("file ends at the length word at %d", c.pos)
		}
		word := le.Uint64(img[data+c.pos:])
		switch {
		case word == 0xFFFF_FFFF_1111_1111:
			c.final = "none"
			return c
		case word == 0xFFFF_FFFF_FFFF_FFFF:
			c.final = "Closed"
			return c
		case word > c.maxMsg:
			c.final = "Failed"
			return c
		}
		size := (8 + word + 7) &^ 7
		if word > 0 {
			if c.pos+size >= c.capacity {
				c.final = "ChannelFull"
				return c
			}
			c.msgs = append(c.msgs, vectortest.Message{Pos: c.pos, Hex: hex.EncodeToString(img[data+c.pos+8 : data+c.pos+8+word])})
		}
		c.pos += size
	}
}

// TestCrateParserReadsVectors: the parser of the crate's view reads the
// files the crate wrote as the crate did (the sidecars say so), those
// whose every record lies inside the file.
func TestCrateParserReadsVectors(t *testing.T) {
	vs, err := vectortest.Load()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, v := range vs {
		if v.Truncated() {
			continue // the crate's file ends inside a record it read from memory
		}
		n++
		c := crateRead(t, v.Image)
		want := v.Side.ExpectedRead
		if c.final != want.Final || c.pos != want.Position || len(c.msgs) != len(want.Messages) {
			t.Fatalf("%s: %d messages, %s at %d; the crate read %d, %s at %d", v.Name, len(c.msgs), c.final, c.pos, len(want.Messages), want.Final, want.Position)
		}
		for i := range c.msgs {
			if c.msgs[i] != want.Messages[i] {
				t.Fatalf("%s: message %d: %+v, the crate read %+v", v.Name, i, c.msgs[i], want.Messages[i])
			}
		}
	}
	if n < 3 {
		t.Fatalf("only %d vectors checked", n)
	}
}

// TestCrateReadsEnvelopedChannel: a channel with an envelope, written to a
// file through the mmap backend, read the way the crate reads: plain
// records, in order, at the positions our reader gives, ending closed,
// each payload the envelope (as FORMAT.md lays it out: CRC32C of the length
// word and the record's bytes after the CRC field, padding included; four
// zero bytes; sequence number; time, each field only if its flag is set)
// and then the user's payload. The crate's max message length (header byte
// 36) admits every record.
func TestCrateReadsEnvelopedChannel(t *testing.T) {
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	le := binary.LittleEndian
	for env := kekbit.Envelope(1); env <= kekbit.EnvelopeAll; env++ {
		t.Run(env.String(), func(t *testing.T) {
			h, err := kekbit.NewHeader(kekbit.Hints{WriterID: 9, ChannelID: 0xC4A7E, Capacity: 1 << 15, MaxMsgLen: 100,
				Timeout: 60, TickUnit: kekbit.Micros, Envelope: env, SeqBase: 77,
				Clock: func() time.Time { return time.Unix(1_700_000_000, 0) }})
			if err != nil {
				t.Fatal(err)
			}
			vol := mmap.NewVolume(testdir.New(t))
			clock := time.Unix(1_760_000_000, 123_000)
			w, err := kekbit.Create(vol, h, codecs.Raw{}, kekbit.WithWriteClock(func() time.Time {
				clock = clock.Add(1500 * time.Microsecond)
				return clock
			}))
			if err != nil {
				t.Fatal(err)
			}
			var user [][]byte
			for i := range 40 {
				p := bytes.Repeat([]byte{byte(i + 1)}, 1+i*5%int(h.MaxPayload()))
				if i == 39 {
					p = bytes.Repeat([]byte{0xAB}, int(h.MaxPayload())) // the longest
				}
				if _, err := w.Write(p); err != nil {
					t.Fatal(err)
				}
				user = append(user, p)
				if i%6 == 0 {
					w.Heartbeat()
				}
			}
			end := uint64(w.WriteOffset())
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			img, err := os.ReadFile(vol.Path(0xC4A7E))
			if err != nil {
				t.Fatal(err)
			}

			c := crateRead(t, img)
			if c.capacity != uint64(h.Capacity) || c.maxMsg != uint64(h.MaxMsgLen) || c.tickUnit != 6 {
				t.Fatalf("the crate sees capacity %d, max %d, tick unit %d", c.capacity, c.maxMsg, c.tickUnit)
			}
			if c.final != "Closed" || c.pos != end || len(c.msgs) != len(user) {
				t.Fatalf("the crate reads %d messages, %s at %d; want %d, Closed at %d", len(c.msgs), c.final, c.pos, len(user), end)
			}
			// Our reader agrees on the positions.
			r, err := kekbit.Open(vol, 0xC4A7E)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			var ours []uint64
			for rec := range r.Records() {
				ours = append(ours, rec.Position)
			}
			envLen := 8 * (int(env&1) + int(env>>1&1) + int(env>>2&1))
			at := time.Unix(1_760_000_000, 123_000)
			for i, m := range c.msgs {
				p, _ := hex.DecodeString(m.Hex)
				what := fmt.Sprintf("message %d at %d", i, m.Pos)
				if m.Pos != ours[i] {
					t.Fatalf("%s: our reader has it at %d", what, ours[i])
				}
				if len(p) != envLen+len(user[i]) || !bytes.Equal(p[envLen:], user[i]) {
					t.Fatalf("%s: %d bytes, want the %d-byte envelope and the user's %d bytes: % x", what, len(p), envLen, len(user[i]), p)
				}
				rec := img[1024+m.Pos : 1024+m.Pos+(8+uint64(len(p))+7)&^7] // length word, payload, padding
				if !bytes.Equal(rec[8+len(p):], make([]byte, len(rec)-8-len(p))) {
					t.Fatalf("%s: padding % x not zero", what, rec[8+len(p):])
				}
				off := 0
				if env&kekbit.EnvelopeCRC != 0 {
					want := crc32.Update(crc32.Update(0, castagnoli, rec[:8]), castagnoli, rec[12:])
					if got := le.Uint32(p); got != want {
						t.Fatalf("%s: CRC field %#08x, the CRC32C of its length word and bytes 12.. is %#08x", what, got, want)
					}
					if le.Uint32(p[4:]) != 0 {
						t.Fatalf("%s: bytes 4..7 of the envelope are % x, not zero", what, p[4:8])
					}
					off = 8
				}
				if env&kekbit.EnvelopeSeq != 0 {
					if got := le.Uint64(p[off:]); got != 77+uint64(i) {
						t.Fatalf("%s: sequence number %d, want %d", what, got, 77+i)
					}
					off += 8
				}
				if env&kekbit.EnvelopeTime != 0 {
					at = at.Add(1500 * time.Microsecond)
					if got := le.Uint64(p[off:]); got != uint64(at.UnixMicro()) {
						t.Fatalf("%s: time %d, want %d (micros)", what, got, at.UnixMicro())
					}
				}
			}
		})
	}
}
