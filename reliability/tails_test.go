//go:build linux

package reliability_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/ports"
)

// A channel image to damage: the file's bytes and the records it holds.
type tailImage struct {
	name    string
	img     []byte
	hdr     domain.Header
	recs    []rec // every record, in order
	end     uint64
	wantEnd error // how a read of the intact image ends
}

// rec is a record handed out by a read: its position and a copy of its
// payload.
type rec struct {
	pos     uint64
	payload []byte
}

func (r rec) String() string { return fmt.Sprintf("%d:%x", r.pos, r.payload) }

// tailPayload returns the payload of record i: varied lengths, every
// padding, content that tells records apart.
func tailPayload(i, n int) []byte {
	p := make([]byte, n)
	for j := range p {
		p[j] = byte(i*7 + j*13 + 1)
	}
	return p
}

// buildTail writes a channel through the mmap backend and returns its
// file's bytes. fill: "closed" (about 50 records, then Close), "open"
// (the same, the image taken before Close: a watermark after the last
// record), "full" (records up to exactly the capacity, then Close: the
// close mark in the footer), "full-8" (up to 8 bytes before the capacity,
// where the close mark goes).
func buildTail(t *testing.T, dir, fill string) tailImage {
	t.Helper()
	h, err := domain.NewHeader(domain.Hints{WriterID: 1, ChannelID: 0x7A11, Capacity: domain.MinCapacity,
		MaxMsgLen: 200, Timeout: 1000, TickUnit: domain.Millis})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, fill+".kekbit")
	var w *domain.Writer[[]byte]
	_, err = mmap.CreateFile(path, h.FileSize(), func(s ports.Storage) error {
		var err error
		w, err = domain.NewWriter(s, h, codecs.Raw{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	ti := tailImage{name: fill, hdr: h}
	maxMsg := int(h.MaxMsgLen)
	write := func(p []byte) {
		t.Helper()
		pos := uint64(w.WriteOffset())
		if _, err := w.Write(p); err != nil {
			t.Fatalf("record %d of %d bytes: %v", len(ti.recs), len(p), err)
		}
		ti.recs = append(ti.recs, rec{pos, p})
	}
	switch fill {
	case "closed", "open":
		for i := range 50 {
			if i%9 == 4 {
				if _, err := w.Heartbeat(); err != nil { // heartbeats between records too
					t.Fatal(err)
				}
			}
			write(tailPayload(i, 1+(i*37)%maxMsg))
		}
	case "full", "full-8":
		slack := uint32(0)
		if fill == "full-8" {
			slack = 8
		}
		for i := 0; ; i++ {
			avail := w.Available() - slack
			if avail <= 8 {
				break
			}
			n := 1 + (i*37)%maxMsg
			if rest := int(avail) - 8; rest <= maxMsg {
				n = rest // the last record fills the channel exactly
			}
			write(tailPayload(i, n))
		}
		if _, err := w.Write([]byte{1}); !errors.Is(err, domain.ErrChannelFull) && !errors.Is(err, domain.ErrNoSpace) {
			t.Fatalf("write to a full channel: %v", err)
		}
	}
	ti.end = uint64(w.WriteOffset())
	if want, ok := map[string]uint64{"full": 0, "full-8": 8}[fill]; ok && ti.end != uint64(h.Capacity)-want {
		t.Fatalf("%s: writer ends at %d, want %d", fill, ti.end, uint64(h.Capacity)-want)
	}
	if fill == "open" {
		if ti.img, err = os.ReadFile(path); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if fill != "open" {
		if ti.img, err = os.ReadFile(path); err != nil {
			t.Fatal(err)
		}
	}
	ti.wantEnd = map[string]error{"closed": domain.ErrClosed, "open": domain.ErrNothingYet,
		"full": domain.ErrChannelFull, "full-8": domain.ErrChannelFull}[fill]
	if int64(len(ti.img)) != h.FileSize() {
		t.Fatalf("file of %d bytes, want %d", len(ti.img), h.FileSize())
	}
	return ti
}

// readResult is everything a read of a damaged image showed.
type readResult struct {
	recs  []rec
	n     int    // bytes Read returned
	end   error  // the sentinel the read ended with
	pos   uint64 // the ReadError's position, or the reader's for ErrNothingYet
	word  uint64 // the ReadError's word (corrupt, truncated)
	panic any
}

func (r readResult) String() string {
	return fmt.Sprintf("%d records, %d bytes, end %s at %d (word %#x)", len(r.recs), r.n, sentinel(r.end), r.pos, r.word)
}

// terminal are the errors a read of a damaged image may end with.
var terminal = []error{domain.ErrCorrupt, domain.ErrTruncated, domain.ErrClosed, domain.ErrNothingYet, domain.ErrChannelFull}

// readStorage reads st from position 0 with one Read(…, 0) through the
// domain, checking that every record handed out lies inside the file of
// size bytes and the capacity. It recovers a panic into the result, and
// gives up (as a hang) after a generous deadline.
func readStorage(t *testing.T, st ports.Storage, size int) readResult {
	t.Helper()
	ch := make(chan readResult, 1)
	go func() {
		var res readResult
		defer func() {
			if p := recover(); p != nil {
				res.panic = p
			}
			ch <- res
		}()
		r, err := domain.NewReader(st)
		if err != nil {
			res.end = err
			st.Close()
			return
		}
		defer r.Close()
		capacity := uint64(r.Header().Capacity)
		var outside []string
		n, err := r.Read(func(record domain.Record) error {
			pos, p := record.Position, record.Payload
			if domain.DataOffset+pos+8+uint64(len(p)) > uint64(size) || pos+domain.RecordSize(uint64(len(p))) > capacity {
				outside = append(outside, fmt.Sprintf("record at %d of %d bytes", pos, len(p)))
			}
			res.recs = append(res.recs, rec{pos, bytes.Clone(p)})
			return nil
		}, 0)
		res.n, res.end, res.pos = n, err, r.Position()
		var re *domain.ReadError
		if errors.As(err, &re) {
			res.word = re.Word
			if re.Position != r.Position() || re.BytesRead != n {
				res.end = fmt.Errorf("ReadError at %d after %d bytes, reader at %d, Read returned %d: %w",
					re.Position, re.BytesRead, r.Position(), n, err)
			}
		}
		if len(outside) > 0 {
			res.end = fmt.Errorf("records outside the file or the capacity: %v (end %w)", outside, err)
		}
	}()
	select {
	case res := <-ch:
		return res
	case <-time.After(followDeadline):
		t.Fatalf("Read did not return within %v", followDeadline)
		return readResult{}
	}
}

// oracle reads an image by the rules of DESIGN.md, independently of the
// domain: what a correct reader yields and where it stops.
func oracle(img []byte, h domain.Header) readResult {
	capacity, maxMsg := uint64(h.Capacity), uint64(h.MaxMsgLen)
	fileEnd := uint64(max(len(img)-domain.DataOffset, 0))
	var res readResult
	pos := uint64(0)
	for {
		if pos+8 >= capacity {
			res.end = domain.ErrChannelFull
			break
		}
		if pos+8 > fileEnd {
			res.end, res.word = domain.ErrTruncated, 0 // no length word to show
			break
		}
		word := binary.LittleEndian.Uint64(img[domain.DataOffset+pos:])
		res.word = word
		if word == domain.Watermark {
			res.end, res.word = domain.ErrNothingYet, 0
			break
		}
		if word == domain.CloseMark {
			res.end, res.word = domain.ErrClosed, 0
			break
		}
		size := (8 + word + 7) &^ 7
		if word > maxMsg || pos+size > capacity {
			res.end = domain.ErrCorrupt
			break
		}
		if pos+size > fileEnd {
			res.end = domain.ErrTruncated
			break
		}
		if word > 0 {
			start := domain.DataOffset + pos + 8
			res.recs = append(res.recs, rec{pos, bytes.Clone(img[start : start+word])})
		}
		pos += size
	}
	if res.end == domain.ErrChannelFull {
		res.word = 0
	}
	res.pos, res.n = pos, int(pos)
	return res
}

// same reports whether two results agree record for record, byte for
// byte, and end the same way at the same place. The word is compared for
// corrupt and truncated ends only (the others do not define it).
func same(a, b readResult) bool {
	if a.panic != nil || b.panic != nil || len(a.recs) != len(b.recs) || a.n != b.n || a.pos != b.pos {
		return false
	}
	if sentinel(a.end) != sentinel(b.end) {
		return false
	}
	if (errors.Is(a.end, domain.ErrCorrupt) || errors.Is(a.end, domain.ErrTruncated)) && a.word != b.word {
		return false
	}
	for i := range a.recs {
		if a.recs[i].pos != b.recs[i].pos || !bytes.Equal(a.recs[i].payload, b.recs[i].payload) {
			return false
		}
	}
	return true
}

// A mutation of the byte at file offset off: it returns the damaged image.
type mutation struct {
	name  string
	apply func(img []byte, off int) []byte
}

var mutations = []mutation{
	{"flip", func(img []byte, off int) []byte { img[off] ^= 0xFF; return img }},
	{"zero", func(img []byte, off int) []byte { img[off] = 0; return img }},
	{"watermark", func(img []byte, off int) []byte {
		binary.LittleEndian.PutUint64(img[off&^7:], domain.Watermark)
		return img
	}},
	{"closemark", func(img []byte, off int) []byte {
		binary.LittleEndian.PutUint64(img[off&^7:], domain.CloseMark)
		return img
	}},
	{"truncate", func(img []byte, off int) []byte { return img[:off] }},
}

// TestTornTails damages, byte by byte, the last three records of a
// written channel and the word after them (the close mark, the watermark
// or the footer) in five ways, and reads every damaged file through the
// mmap and the memory backends. Each read must: not panic and return; hand
// out only records wholly inside the file and the capacity; yield the
// records before the damaged one intact and in order; end with a typed
// error (corrupt, truncated, closed, nothing yet, full); agree with the
// other backend and with an independent parser of the format, so that
// damage the format cannot see (a payload byte, padding) yields exactly
// the bytes the file holds.
func TestTornTails(t *testing.T) {
	dir := t.TempDir()
	total := 0
	for _, fill := range []string{"closed", "open", "full", "full-8"} {
		t.Run(fill, func(t *testing.T) {
			ti := buildTail(t, dir, fill)
			total += tornTails(t, dir, ti)
		})
	}
	t.Logf("%d damaged files read, each through both backends", total)
}

func tornTails(t *testing.T, dir string, ti tailImage) int {
	// The intact image reads as written.
	intact := oracle(ti.img, ti.hdr)
	if !slices.EqualFunc(intact.recs, ti.recs, func(a, b rec) bool { return a.pos == b.pos && bytes.Equal(a.payload, b.payload) }) ||
		!errors.Is(intact.end, ti.wantEnd) || intact.pos != ti.end {
		t.Fatalf("the oracle reads the intact %s image as %v, want %d records, %s at %d",
			ti.name, intact, len(ti.recs), sentinel(ti.wantEnd), ti.end)
	}
	copyPath := filepath.Join(dir, ti.name+"-damaged.kekbit")
	readBoth := func(img []byte) (readResult, readResult) {
		if err := os.WriteFile(copyPath, img, 0o644); err != nil {
			t.Fatal(err)
		}
		st, err := mmap.OpenFile(copyPath)
		if err != nil {
			t.Fatal(err)
		}
		return readStorage(t, st, len(img)), readStorage(t, memory.FromImage(img), len(img))
	}
	if m, mem := readBoth(ti.img); !same(m, intact) || !same(mem, intact) {
		t.Fatalf("intact image: mmap %v, memory %v, want %v", m, mem, intact)
	}

	last := ti.recs[len(ti.recs)-3:]
	first := domain.DataOffset + int(last[0].pos)
	stop := min(domain.DataOffset+int(ti.end)+8, len(ti.img))
	cases, ends := 0, map[string]int{}
	for off := first; off < stop; off++ {
		rel := uint64(off - domain.DataOffset)
		// k: the records wholly before the damaged byte; unit: where the
		// record, heartbeat or word after them that holds it starts; role:
		// which part of it the byte is.
		k, unit, role := len(ti.recs), rel&^7, "after"
		for i, r := range ti.recs {
			if rel >= r.pos+domain.RecordSize(uint64(len(r.payload))) {
				continue
			}
			k = i
			switch {
			case rel < r.pos:
				role = "heartbeat"
			case rel < r.pos+8:
				role, unit = "length", r.pos
			case rel < r.pos+8+uint64(len(r.payload)):
				role, unit = "payload", r.pos
			default:
				role, unit = "padding", r.pos
			}
			break
		}
		for _, m := range mutations {
			cases++
			img := m.apply(bytes.Clone(ti.img), off)
			what := fmt.Sprintf("%s image, %s at file offset %d (position %d, %s of record %d of %d)", ti.name, m.name, off, rel, role, k, len(ti.recs))
			want := oracle(img, ti.hdr)
			ends[sentinel(want.end)]++
			mm, mem := readBoth(img)
			for _, got := range []struct {
				backend string
				res     readResult
			}{{"mmap", mm}, {"memory", mem}} {
				res := got.res
				if res.panic != nil {
					t.Fatalf("%s: %s read panicked: %v", what, got.backend, res.panic)
				}
				if !slices.ContainsFunc(terminal, func(e error) bool { return errors.Is(res.end, e) }) {
					t.Fatalf("%s: %s read ended with %v, not a typed end", what, got.backend, res.end)
				}
				if len(res.recs) < k {
					t.Fatalf("%s: %s read yielded %d records, the %d before the damage are intact", what, got.backend, len(res.recs), k)
				}
				for i := range min(k, len(res.recs)) {
					if res.recs[i].pos != ti.recs[i].pos || !bytes.Equal(res.recs[i].payload, ti.recs[i].payload) {
						t.Fatalf("%s: %s read: record %d is %v, want %v", what, got.backend, i, res.recs[i], ti.recs[i])
					}
				}
				if !same(res, want) {
					t.Fatalf("%s: %s read gives %v, the format says %v", what, got.backend, res, want)
				}
			}
			if !same(mm, mem) {
				t.Fatalf("%s: mmap read %v, memory read %v", what, mm, mem)
			}
			checkExpected(t, what, ti, intact, want, m.name, k, unit, rel, role)
		}
	}
	t.Logf("%d damaged files from file offset %d to %d; reads ended: %v", cases, first, stop, ends)
	return cases
}

// checkExpected checks what a damaged read gives against what the damage
// must give, where the rules say it plainly.
func checkExpected(t *testing.T, what string, ti tailImage, intact, got readResult, mut string, k int, unit, rel uint64, role string) {
	t.Helper()
	n := len(ti.recs)
	switch {
	case unit+8 >= uint64(ti.hdr.Capacity):
		// The reader stops at the capacity without looking.
		if !same(got, intact) {
			t.Fatalf("%s: damage past the end of a full channel changed the read: %v, want %v", what, got, intact)
		}
	case mut == "truncate":
		if !errors.Is(got.end, domain.ErrTruncated) || len(got.recs) != k || got.pos != unit {
			t.Fatalf("%s: %v, want %d records and ErrTruncated at %d", what, got, k, unit)
		}
	case (mut == "watermark" || mut == "closemark") && rel&^7 == unit:
		want := map[string]error{"watermark": domain.ErrNothingYet, "closemark": domain.ErrClosed}[mut]
		if !errors.Is(got.end, want) || len(got.recs) != k || got.pos != unit {
			t.Fatalf("%s: %v, want %d records and %s at %d", what, got, k, sentinel(want), unit)
		}
	case role == "length" || role == "heartbeat" || role == "after":
		// A damaged length word that is not a mark: the format may or may
		// not see it; the oracle and the intact prefix were checked.
	case role == "payload" || mut == "watermark" || mut == "closemark":
		// A payload byte (or a whole word inside the record): invisible to
		// the format; every record is there, record k with the damaged bytes.
		if len(got.recs) != n || !errors.Is(got.end, ti.wantEnd) || got.pos != ti.end {
			t.Fatalf("%s: invisible damage gave %v, want all %d records", what, got, n)
		}
		for i := range n {
			if i != k && !bytes.Equal(got.recs[i].payload, ti.recs[i].payload) {
				t.Fatalf("%s: invisible damage changed record %d", what, i)
			}
		}
	default:
		// A padding byte: nobody reads it.
		if !same(got, intact) {
			t.Fatalf("%s: damaged padding changed the read: %v, want %v", what, got, intact)
		}
	}
}
