package domain_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/ports"
)

// The channel behind the fuzzed enveloped data regions: 16 KiB, records
// of up to 120 bytes (envelope included), and the envelope named by the
// fuzzer's flags (1..7: always one).
const fuzzEnvCapacity = 16384

func fuzzEnvelope(flags uint8) domain.Envelope { return domain.Envelope(flags%7 + 1) }

// fuzzEnvHeader is the header of an enveloped fuzz channel, as a header
// and as the first 1024 bytes of its file.
func fuzzEnvHeader(t testing.TB, env domain.Envelope, seqBase uint64) (domain.Header, []byte) {
	h, err := domain.NewHeader(domain.Hints{ChannelID: 1, Capacity: fuzzEnvCapacity, MaxMsgLen: 100, Timeout: 1 << 40,
		TickUnit: domain.Micros, Clock: fixedClock, Envelope: env, SeqBase: seqBase})
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, domain.DataOffset)
	hb, _ := h.MarshalBinary()
	copy(b, hb)
	return h, b
}

var fuzzCastagnoli = crc32.MakeTable(crc32.Castagnoli)

// sealedRecord is a record handed out with what its envelope said.
type sealedRecord struct {
	pos, seq, time uint64
	payload        []byte
}

// checkSealed verifies, by FORMAT.md and without the domain's code, the
// record handed out at pos with payload p (the user's bytes) as record
// number index of a channel with envelope env and sequence base seqBase,
// against data, the data region's bytes: the length word, the CRC32C, the
// zero bytes after it, the sequence number, the time and the payload must
// all be what the bytes say and what the reader said.
func checkSealed(t *testing.T, data []byte, env domain.Envelope, seqBase, index uint64, r sealedRecord) {
	t.Helper()
	le := binary.LittleEndian
	envLen := env.Len()
	word := envLen + uint64(len(r.payload))
	end := r.pos + domain.RecordSize(word)
	if r.pos%8 != 0 || end > uint64(len(data)) || end > fuzzEnvCapacity || len(r.payload) == 0 {
		t.Fatalf("record %d at %d of %d bytes lies outside the region (%d bytes) or is empty", index, r.pos, len(r.payload), len(data))
	}
	if got := le.Uint64(data[r.pos:]); got != word {
		t.Fatalf("record %d at %d: length word %d, but %d envelope and payload bytes handed out", index, r.pos, got, word)
	}
	body := data[r.pos+8 : end]
	if !bytes.Equal(body[envLen:word], r.payload) {
		t.Fatalf("record %d at %d: the payload handed out is not the file's bytes", index, r.pos)
	}
	off := 0
	if env.Has(domain.EnvelopeCRC) {
		want := crc32.Update(crc32.Update(0, fuzzCastagnoli, data[r.pos:r.pos+8]), fuzzCastagnoli, body[4:])
		if got := le.Uint32(body); got != want {
			t.Fatalf("record %d at %d handed out with CRC %#08x, its bytes' CRC32C is %#08x", index, r.pos, got, want)
		}
		off = 8
	}
	seq := seqBase + index
	if env.Has(domain.EnvelopeSeq) {
		if got := le.Uint64(body[off:]); got != seq {
			t.Fatalf("record %d at %d handed out with sequence field %d, want %d", index, r.pos, got, seq)
		}
		off += 8
	}
	if r.seq != seq {
		t.Fatalf("record %d at %d: the reader says sequence number %d, want %d", index, r.pos, r.seq, seq)
	}
	wantTime := uint64(0)
	if env.Has(domain.EnvelopeTime) {
		wantTime = le.Uint64(body[off:])
	}
	if r.time != wantTime {
		t.Fatalf("record %d at %d: the reader says time %d, the field holds %d", index, r.pos, r.time, wantTime)
	}
}

// plainStorage hides that a storage is addressable, so that the domain
// reaches it through its methods only.
type plainStorage struct{ ports.Storage }

// readSealed reads st in reads of up to max records (three, then one to
// the end), keeping each record and what its envelope says, and checks
// the bytes advanced and the ends. It returns the records, the last end
// and the reader's position.
func readSealed(t *testing.T, st ports.Storage, max int) ([]sealedRecord, error, uint64) {
	t.Helper()
	r, err := domain.NewReader(st)
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	defer r.Close()
	var recs []sealedRecord
	var end error
	for i := range 4 {
		if i == 3 {
			max = 0
		}
		start := r.Position()
		n, err := r.Read(func(rec domain.Record) error {
			recs = append(recs, sealedRecord{rec.Position, r.Seq(), r.Time(), bytes.Clone(rec.Payload)})
			return nil
		}, max)
		if uint64(n) != r.Position()-start {
			t.Fatalf("read %d bytes but moved from %d to %d", n, start, r.Position())
		}
		if err != nil && !isOneOf(err, readEnds) {
			t.Fatalf("untyped read end %v", err)
		}
		var re *domain.ReadError
		if errors.As(err, &re) && (re.Position != r.Position() || re.BytesRead != n) {
			t.Fatalf("ReadError %+v: the reader is at %d after %d bytes", re, r.Position(), n)
		}
		end = err
		if err != nil && err != domain.ErrNothingYet {
			// A terminal end stays: a read after it hands out nothing.
			if n, err2 := r.Read(func(domain.Record) error { t.Fatalf("a record after the end %v", err); return nil }, 0); n != 0 || err2 == nil {
				t.Fatalf("read after the end %v: %d bytes, %v", err, n, err2)
			}
			break
		}
	}
	return recs, end, r.Position()
}

// sealedSeed returns the data region of a channel with envelope env
// written by the domain: records of the given lengths (0: a heartbeat),
// then closed if closed. It also returns the close trailer's bytes.
func sealedSeed(t testing.TB, env domain.Envelope, seqBase uint64, lengths []int, closed bool) (region, trailer []byte) {
	h, _ := fuzzEnvHeader(t, env, seqBase)
	mem := memory.New(h.FileSize())
	now := time.Unix(1_700_000_000, 0)
	w, err := domain.NewWriter(mem.Share(), h, codecs.Raw{}, domain.WithWriteClock(func() time.Time { now = now.Add(time.Second); return now }))
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range lengths {
		if n == 0 {
			w.Heartbeat()
		} else {
			w.Write(bytes.Repeat([]byte{byte(i + 1)}, n))
		}
	}
	if closed {
		w.Close()
	}
	img := mem.Image()
	return img[domain.DataOffset:], img[domain.TrailerOffset : domain.TrailerOffset+domain.TrailerLen]
}

// FuzzReadSealedRegion reads an arbitrary data region (cut anywhere) and
// close trailer behind the valid header of a channel with an envelope
// (flags choose its fields, seqBase its sequence base), on an addressable
// storage and on one reached through its methods: no panic, no hang, both
// agree, every end is typed, and every record handed out verifies by an
// independent check of its bytes (length, CRC32C, zero bytes, sequence
// number from the base, time, payload), in order, inside the region and
// the capacity.
func FuzzReadSealedRegion(f *testing.F) {
	for flags := range uint8(7) {
		region, trailer := sealedSeed(f, fuzzEnvelope(flags), uint64(flags)*1000, []int{5, 0, 17, 96, 1, 0, 0, 40}, flags%2 == 0)
		f.Add(region, trailer, flags, uint64(flags)*1000, 2)
	}
	f.Fuzz(func(t *testing.T, region, trailer []byte, flags uint8, seqBase uint64, max int) {
		env := fuzzEnvelope(flags)
		_, img := fuzzEnvHeader(t, env, seqBase)
		copy(img[domain.TrailerOffset:domain.TrailerOffset+domain.TrailerLen], trailer)
		img = append(img, region...)
		recs, end, pos := readSealed(t, memory.FromImage(img), max)
		slow, slowEnd, slowPos := readSealed(t, plainStorage{memory.FromImage(img)}, max)
		if len(recs) != len(slow) || pos != slowPos || fmt.Sprint(end) != fmt.Sprint(slowEnd) {
			t.Fatalf("addressable: %d records, %v at %d; through the methods: %d records, %v at %d", len(recs), end, pos, len(slow), slowEnd, slowPos)
		}
		last := int64(-1)
		for i, r := range recs {
			if int64(r.pos) <= last {
				t.Fatalf("record %d at %d, not after %d", i, r.pos, last)
			}
			last = int64(r.pos)
			if s := slow[i]; s.pos != r.pos || s.seq != r.seq || s.time != r.time || !bytes.Equal(s.payload, r.payload) {
				t.Fatalf("record %d: addressable %+v, through the methods %+v", i, r, s)
			}
			checkSealed(t, region, env, seqBase, uint64(i), r)
		}
	})
}

// FuzzResumeTorn resumes a channel with an envelope whose data region is
// arbitrary (shorter ones padded with zeros), then appends records of the
// fuzzed lengths and closes it. Resume never panics and fails only with a
// typed end (closed, full, truncated); after it, a reader reads exactly
// the records Resume kept, each verified independently, and stops at the
// resume position; a repaired tail leaves only zeros and watermarks after
// it; the writer appends and closes cleanly, and a reader then reads the
// kept records and the new ones with consecutive sequence numbers and
// ends closed (or full, if the writes filled it), the close trailer
// agreeing.
func FuzzResumeTorn(f *testing.F) {
	for flags := range uint8(7) {
		region, _ := sealedSeed(f, fuzzEnvelope(flags), 1<<flags, []int{5, 0, 17, 96, 1, 0, 0, 40, 3}, false)
		f.Add(region, flags, uint64(1)<<flags, []byte{1, 50, 99})
		torn := bytes.Clone(region)
		clear(torn[40:200]) // a lost stretch in the middle of the records
		f.Add(torn, flags, uint64(1)<<flags, []byte{7})
	}
	f.Fuzz(func(t *testing.T, region []byte, flags uint8, seqBase uint64, writes []byte) {
		env := fuzzEnvelope(flags)
		h, img := fuzzEnvHeader(t, env, seqBase)
		img = append(img, region...)
		if int64(len(img)) < h.FileSize() {
			img = append(img, make([]byte, h.FileSize()-int64(len(img)))...)
		}
		img = img[:h.FileSize()]
		mem := memory.FromImage(img)
		data := mem.Bytes()[domain.DataOffset:]
		w, err := domain.Resume(mem.Share(), codecs.Raw{}, domain.WithWriteClock(func() time.Time { return time.Unix(1_800_000_000, 0) }))
		if err != nil {
			var re *domain.ReadError
			if !errors.As(err, &re) || !isOneOf(err, []error{domain.ErrClosed, domain.ErrChannelFull, domain.ErrTruncated}) {
				t.Fatalf("Resume: untyped %v", err)
			}
			return
		}
		kept, at := w.Records(), uint64(w.WriteOffset())
		if w.Dropped() > 0 {
			for q := at; q+8 <= fuzzEnvCapacity; q += 8 {
				if word := binary.LittleEndian.Uint64(data[q:]); word != 0 && word != domain.Watermark {
					t.Fatalf("resumed at %d, %d bytes dropped, but word %#x is left at %d", at, w.Dropped(), word, q)
				}
			}
		}
		prefix, end, pos := readSealed(t, mem.Share(), 0)
		if uint64(len(prefix)) != kept || pos != at || end != domain.ErrNothingYet {
			t.Fatalf("Resume kept %d records, resumed at %d; a reader reads %d records, then %v at %d", kept, at, len(prefix), end, pos)
		}
		for i, r := range prefix {
			checkSealed(t, data, env, seqBase, uint64(i), r)
		}
		var written [][]byte
		for i, n := range writes {
			p := bytes.Repeat([]byte{byte(i) ^ 0x5A}, 1+int(n)%int(h.MaxPayload()))
			if _, err := w.Write(p); err == nil {
				written = append(written, p)
			} else if !isOneOf(err, []error{domain.ErrChannelFull, domain.ErrNoSpace}) {
				t.Fatalf("write %d of %d bytes after Resume: %v", i, len(p), err)
			}
		}
		final := uint64(w.WriteOffset())
		if err := w.Close(); err != nil {
			t.Fatalf("Close after Resume: %v", err)
		}
		all, end, _ := readSealed(t, mem.Share(), 0)
		wantEnd := domain.ErrClosed
		if final+8 >= fuzzEnvCapacity {
			wantEnd = domain.ErrChannelFull // the close mark lies past where readers stop
		}
		if len(all) != len(prefix)+len(written) || !errors.Is(end, wantEnd) {
			t.Fatalf("after Resume (%d kept) and %d writes: %d records, then %v", kept, len(written), len(all), end)
		}
		for i, r := range all {
			checkSealed(t, data, env, seqBase, uint64(i), r)
			if i < len(prefix) && (r.pos != prefix[i].pos || !bytes.Equal(r.payload, prefix[i].payload)) {
				t.Fatalf("kept record %d changed by the writes after Resume", i)
			}
			if i >= len(prefix) && !bytes.Equal(r.payload, written[i-len(prefix)]) {
				t.Fatalf("record %d written after Resume reads back differently", i)
			}
		}
	})
}
