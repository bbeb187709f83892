//go:build linux

package reliability_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/ports"
)

// The enveloped channel the damage tests break: 2,000 records of 1..120
// bytes, a heartbeat before one record in 23, closed; its capacity just
// holds them, so that nearly every page of the file holds records.
const (
	damageRecords = 2000
	damageMaxBody = 120
	damageSeqBase = 5000
	damageID      = 0xDA3A_6E00
	pageSize      = 4096
)

// damageT0 is the writer clock's first time; each record is stamped one
// millisecond after the one before.
var damageT0 = time.Unix(1_750_000_000, 0)

// envPayload returns the payload of record i of a channel written with
// seed: its length and bytes follow from both.
func envPayload(seed uint64, i uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, i))
	p := make([]byte, 1+rng.IntN(damageMaxBody))
	for j := range p {
		if rng.IntN(6) == 0 {
			continue // zero bytes too: zero words inside records
		}
		p[j] = byte(rng.Uint32())
	}
	return p
}

// envRec is a record as written, or as a reader handed it out.
type envRec struct {
	pos, seq, time uint64
	payload        []byte
}

func (r envRec) String() string {
	return fmt.Sprintf("{pos %d seq %d time %d %d bytes}", r.pos, r.seq, r.time, len(r.payload))
}

func (r envRec) equal(o envRec) bool {
	return r.pos == o.pos && r.seq == o.seq && r.time == o.time && bytes.Equal(r.payload, o.payload)
}

// unit is what lies at a place of the data region: a record, a heartbeat
// or the close mark.
type unit struct {
	start, end uint64
	kind       string // "record", "heartbeat", "close"
	before     int    // records before it
}

// damageChannel is the written channel: its file's bytes and what is in it.
type damageChannel struct {
	env     domain.Envelope
	hdr     domain.Header
	img     []byte
	recs    []envRec
	units   []unit
	closeAt uint64
}

// buildDamageChannel writes the channel with envelope env through the mmap
// backend in root, closes it and reads its file.
func buildDamageChannel(t *testing.T, root string, env domain.Envelope) *damageChannel {
	t.Helper()
	const seed = 0xDA4A6E
	heartbeatBefore := func(i int) bool { return i%23 == 5 }
	// The capacity: what the records, the heartbeats, the first heartbeat
	// and the close mark take, and a little more.
	need := uint64(8 + 8)
	for i := range damageRecords {
		need += domain.RecordSize(env.Len() + uint64(len(envPayload(seed, uint64(i)))))
		if heartbeatBefore(i) {
			need += 8
		}
	}
	h, err := domain.NewHeader(domain.Hints{WriterID: 7, ChannelID: damageID, Capacity: uint32(need + 200),
		MaxMsgLen: damageMaxBody, Timeout: 1000, TickUnit: domain.Micros, Envelope: env, SeqBase: damageSeqBase,
		Clock: func() time.Time { return damageT0 }})
	if err != nil {
		t.Fatal(err)
	}
	vol := mmap.NewVolume(root)
	clock := damageT0
	w, err := domain.Create(vol, h, codecs.Raw{}, domain.WithWriteClock(func() time.Time {
		clock = clock.Add(time.Millisecond)
		return clock
	}))
	if err != nil {
		t.Fatal(err)
	}
	c := &damageChannel{env: env, hdr: h}
	c.units = append(c.units, unit{0, 8, "heartbeat", 0})
	for i := range damageRecords {
		if heartbeatBefore(i) {
			pos := uint64(w.WriteOffset())
			if _, err := w.Heartbeat(); err != nil {
				t.Fatal(err)
			}
			c.units = append(c.units, unit{pos, pos + 8, "heartbeat", i})
		}
		p := envPayload(seed, uint64(i))
		pos := uint64(w.WriteOffset())
		n, err := w.Write(p)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		r := envRec{pos: pos, seq: damageSeqBase + uint64(i), payload: p}
		if env.Has(domain.EnvelopeTime) {
			r.time = uint64(damageT0.Add(time.Duration(i+1) * time.Millisecond).UnixMicro())
		}
		if env == 0 {
			r.seq = 0 // a plain channel has no sequence numbers
		}
		c.recs = append(c.recs, r)
		c.units = append(c.units, unit{pos, pos + uint64(n), "record", i})
	}
	c.closeAt = uint64(w.WriteOffset())
	c.units = append(c.units, unit{c.closeAt, c.closeAt + 8, "close", damageRecords})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if c.img, err = os.ReadFile(vol.Path(damageID)); err != nil {
		t.Fatal(err)
	}
	if int64(len(c.img)) != h.FileSize() {
		t.Fatalf("file of %d bytes, want %d", len(c.img), h.FileSize())
	}
	return c
}

// unitAt returns the unit that holds data position p, or false if p lies
// past the close mark.
func (c *damageChannel) unitAt(p uint64) (unit, bool) {
	i := sort.Search(len(c.units), func(i int) bool { return c.units[i].end > p })
	if i == len(c.units) {
		return unit{}, false
	}
	return c.units[i], true
}

// nextUnitFrom returns the start of the first unit that starts at or after
// data position p (the close mark's end if none does).
func (c *damageChannel) nextUnitFrom(p uint64) uint64 {
	i := sort.Search(len(c.units), func(i int) bool { return c.units[i].start >= p })
	if i == len(c.units) {
		return c.closeAt + 8
	}
	return c.units[i].start
}

// envRead is what a read of a (damaged) channel file showed.
type envRead struct {
	headerErr *domain.HeaderError
	recs      []envRec
	end       error // the error the read ended with
	re        *domain.ReadError
	panic     any
}

func (r envRead) String() string {
	if r.headerErr != nil {
		return "refused at open: " + r.headerErr.Error()
	}
	return fmt.Sprintf("%d records, then %v", len(r.recs), r.end)
}

// readEnveloped reads st from position 0 with Records, keeping every record
// with its sequence number and time.
func readEnveloped(st ports.Storage) (res envRead) {
	defer func() {
		if p := recover(); p != nil {
			res.panic = p
		}
	}()
	r, err := domain.NewReader(st)
	if err != nil {
		st.Close()
		if !errors.As(err, &res.headerErr) {
			res.end = err
		}
		return res
	}
	defer r.Close()
	for rec := range r.Records() {
		res.recs = append(res.recs, envRec{pos: rec.Position, seq: r.Seq(), time: r.Time(), payload: bytes.Clone(rec.Payload)})
	}
	res.end = r.Err()
	errors.As(res.end, &res.re)
	return res
}

// sameRead reports whether two reads agree in every record and in their end.
func sameRead(a, b envRead) bool {
	if a.panic != nil || b.panic != nil || len(a.recs) != len(b.recs) || (a.headerErr == nil) != (b.headerErr == nil) {
		return false
	}
	for i := range a.recs {
		if !a.recs[i].equal(b.recs[i]) {
			return false
		}
	}
	if a.headerErr != nil {
		return a.headerErr.Field == b.headerErr.Field
	}
	if (a.re == nil) != (b.re == nil) {
		return false
	}
	return a.re == nil && errors.Is(a.end, b.end) && errors.Is(b.end, a.end) || a.re != nil && *a.re == *b.re
}

// damageTally counts the outcomes of the damage cases.
type damageTally struct {
	detected, harmless, undetected int
	how                            map[string]int // detected: the check that caught it; harmless: why
}

func (d *damageTally) String() string {
	return fmt.Sprintf("%d cases: %d detected, %d harmless, %d undetected; %v",
		d.detected+d.harmless+d.undetected, d.detected, d.harmless, d.undetected, d.how)
}

// judge checks the read of the damaged image img against what the damage
// must give, and counts the case. what names the case in failures.
func (c *damageChannel) judge(t *testing.T, d *damageTally, what string, img []byte, got envRead, flip bool) {
	t.Helper()
	if got.panic != nil {
		t.Fatalf("%s: the read panicked: %v", what, got.panic)
	}
	bad := func(format string, args ...any) {
		t.Helper()
		d.undetected++
		t.Errorf("%s: %s", what, fmt.Sprintf(format, args...))
	}
	// The bytes something reads: the header, its extension block and the
	// close trailer (file bytes 0..215), and the data region up to the
	// close mark's end. The first of them that the damage changed decides
	// what the read must give.
	first := -1
	readEnd := domain.DataOffset + int(c.closeAt) + 8
	for i := range readEnd {
		if (i < domain.TrailerOffset+domain.TrailerLen || i >= domain.DataOffset) && img[i] != c.img[i] {
			first = i
			break
		}
	}
	if first < 0 {
		// Nothing a reader looks at changed: every record, as written, and
		// the end as before.
		intact := envRead{recs: c.recs, end: domain.ErrClosed}
		if len(got.recs) != len(c.recs) || !errors.Is(got.end, domain.ErrClosed) || got.headerErr != nil {
			bad("damage to bytes nothing reads changed the read: %v", got)
			return
		}
		for i := range c.recs {
			if !got.recs[i].equal(intact.recs[i]) {
				bad("damage to bytes nothing reads changed record %d: %v, want %v", i, got.recs[i], c.recs[i])
				return
			}
		}
		d.harmless++
		switch {
		case bytes.Equal(img, c.img):
			d.how["harmless: bytes already zero"]++
		case firstChanged(img, c.img) < domain.DataOffset:
			d.how["harmless: unused header bytes"]++
		default:
			d.how["harmless: past the close mark"]++
		}
		return
	}
	if first < domain.TrailerOffset {
		// The header or its extension block: refused at open.
		if got.headerErr == nil {
			bad("damage at file byte %d of the header: read %v, want a *HeaderError", first, got)
			return
		}
		d.detected++
		d.how["header:"+got.headerErr.Field]++
		return
	}
	if got.headerErr != nil {
		bad("a damaged byte at %d past the header: refused at open: %v", first, got.headerErr)
		return
	}
	// k records are wholly before the damage, which starts in unit u (the
	// close trailer damaged: the channel's end).
	var u unit
	if first < domain.DataOffset {
		u = c.units[len(c.units)-1]
	} else {
		var ok bool
		if u, ok = c.unitAt(uint64(first - domain.DataOffset)); !ok {
			t.Fatalf("%s: byte %d past the close mark counted as read", what, first)
		}
	}
	k := u.before
	for i, r := range got.recs {
		if i >= len(c.recs) || !r.equal(c.recs[i]) {
			bad("record %d handed out is %v, never written there (the damage starts in the %s at %d, after %d records)", i, r, u.kind, u.start, k)
			return
		}
	}
	if len(got.recs) != k {
		bad("%d records handed out, want the %d before the damage (in the %s at %d)", len(got.recs), k, u.kind, u.start)
		return
	}
	if got.re == nil || got.re.Err != domain.ErrCorrupt {
		bad("the read of %d good records ended with %v, want ErrCorrupt (damage in the %s at %d)", k, got.end, u.kind, u.start)
		return
	}
	// Where the read stops: at the damaged unit for a flipped bit (or the
	// word after it, if the flip made its length word a heartbeat); for a
	// zeroed page, which reads as heartbeats, anywhere from the damaged unit
	// to the first unit after the page, or at the channel's end if the page
	// took the close mark with it.
	pos := got.re.Position
	last := domain.DataOffset + int(c.closeAt) + 7 // the close mark's last byte
	lastChanged := first
	for i := min(len(img), readEnd) - 1; i > first; i-- {
		if img[i] != c.img[i] {
			lastChanged = i
			break
		}
	}
	switch {
	case first < domain.DataOffset: // the trailer
		if got.re.Check != "trailer_crc" || pos != c.closeAt {
			bad("damaged trailer: %v, want ErrCorrupt by the trailer's CRC at %d", got.end, c.closeAt)
			return
		}
	case flip:
		word := binary.LittleEndian.Uint64(img[domain.DataOffset+u.start:])
		if pos != u.start && !(word == 0 && pos == u.start+8) {
			bad("flip in the %s at %d: the read stops at %d: %v", u.kind, u.start, pos, got.end)
			return
		}
	case pos < u.start || (lastChanged < last && pos > c.nextUnitFrom(uint64(lastChanged-domain.DataOffset+1))):
		bad("zeroed bytes %d..%d (from the %s at %d): the read stops at %d: %v", first, lastChanged, u.kind, u.start, pos, got.end)
		return
	}
	d.detected++
	check := got.re.Check
	if check == "" {
		check = "framing"
	}
	d.how[check]++
}

// damageCase reads img through the mmap backend (from a file in dir) and
// the memory backend; both must agree.
func damageCase(t *testing.T, dir string, img []byte) envRead {
	t.Helper()
	path := filepath.Join(dir, "damaged.kekbit")
	if err := os.WriteFile(path, img, 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := mmap.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	viaMmap := readEnveloped(st)
	viaMemory := readEnveloped(memory.FromImage(bytes.Clone(img)))
	if !sameRead(viaMmap, viaMemory) {
		t.Fatalf("mmap read %v, memory read %v", viaMmap, viaMemory)
	}
	return viaMmap
}

// damageSeed is the seed of the flipped bits: fixed, so that a run is
// repeatable; KEKBIT_DAMAGE_SEED=n chooses another.
func damageSeed(t *testing.T) uint64 {
	if s := os.Getenv("KEKBIT_DAMAGE_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 0, 64)
		if err != nil {
			t.Fatalf("KEKBIT_DAMAGE_SEED=%q: %v", s, err)
		}
		return n
	}
	return 0x5EED_DA4A
}

// TestEnvelopeDamagedPages breaks every 4 KiB page of a closed 2,000-record
// enveloped channel file in two ways, each on a fresh copy: the page
// zeroed (what a lost writeback at a power cut leaves), and one random bit
// of it flipped. Every damaged file is read through the mmap and the
// memory backends, which must agree. Where the damage changed a byte that
// something reads, the reader hands out exactly the records before the
// damage (payload, position, sequence number and time as written) and ends
// with ErrCorrupt at the damaged record (or refuses the header with a
// *HeaderError); where it changed only bytes nothing reads (file bytes
// 216..1023, the data region past the close mark, the footer), the read is
// exactly the intact one. No case may hand out a record that was not
// written, or end any other way: 0 undetected.
//
// Page 0 holds the header; it is also swept byte by byte: one random bit
// flipped in each of its first 1024 bytes.
func TestEnvelopeDamagedPages(t *testing.T) {
	root := shmRoot(t)
	start := time.Now()
	c := buildDamageChannel(t, root, domain.EnvelopeAll)
	if got := damageCase(t, root, c.img); len(got.recs) != damageRecords || !errors.Is(got.end, domain.ErrClosed) {
		t.Fatalf("the intact file reads as %v", got)
	}
	seed := damageSeed(t)
	rng := rand.New(rand.NewPCG(seed, 16))
	flips := 1
	if long() {
		flips = 64
	}
	pages := (len(c.img) + pageSize - 1) / pageSize
	zero := &damageTally{how: map[string]int{}}
	flip := &damageTally{how: map[string]int{}}
	for page := range pages {
		lo, hi := page*pageSize, min((page+1)*pageSize, len(c.img))
		img := bytes.Clone(c.img)
		clear(img[lo:hi])
		c.judge(t, zero, fmt.Sprintf("page %d (file bytes %d..%d) zeroed", page, lo, hi-1), img, damageCase(t, root, img), false)
		for range flips {
			off, bit := lo+rng.IntN(hi-lo), rng.IntN(8)
			img := bytes.Clone(c.img)
			img[off] ^= 1 << bit
			c.judge(t, flip, fmt.Sprintf("page %d: bit %d of file byte %d flipped (seed %#x)", page, bit, off, seed), img, damageCase(t, root, img), true)
		}
		if t.Failed() {
			t.FailNow()
		}
	}
	// The header page, byte by byte (the memory backend only).
	header := &damageTally{how: map[string]int{}}
	for off := range domain.DataOffset {
		bit := rng.IntN(8)
		img := bytes.Clone(c.img)
		img[off] ^= 1 << bit
		got := readEnveloped(memory.FromImage(img))
		c.judge(t, header, fmt.Sprintf("bit %d of header byte %d flipped", bit, off), img, got, true)
	}
	t.Logf("%d pages of %d bytes, %d records (file of %d bytes, close mark at position %d), seed %#x, %v",
		pages, pageSize, damageRecords, len(c.img), c.closeAt, seed, time.Since(start).Round(time.Millisecond))
	t.Logf("pages zeroed: %v", zero)
	t.Logf("one bit flipped per page: %v", flip)
	t.Logf("one bit flipped per header byte 0..1023: %v", header)
	for _, d := range []*damageTally{zero, flip, header} {
		if d.undetected != 0 {
			t.Errorf("%d undetected", d.undetected)
		}
	}
	if zero.detected == 0 || flip.detected == 0 || header.detected == 0 || header.harmless == 0 {
		t.Errorf("the cases do not cover what they should: zeroed %v, flipped %v, header %v", zero, flip, header)
	}
}

// TestPlainDamagedPages zeroes the pages of the same channel without the
// envelope, for comparison: format 1.0.0 cannot see most of the damage. It
// asserts nothing about the plain channel's reads, only logs what they did:
// records handed out that were never written, records lost silently (the
// read still ends closed), damage seen.
func TestPlainDamagedPages(t *testing.T) {
	root := shmRoot(t)
	c := buildDamageChannel(t, root, 0)
	pages := (len(c.img) + pageSize - 1) / pageSize
	outcomes := map[string]int{}
	bogus := 0
	for page := range pages {
		lo, hi := page*pageSize, min((page+1)*pageSize, len(c.img))
		img := bytes.Clone(c.img)
		clear(img[lo:hi])
		got := readEnveloped(memory.FromImage(img))
		switch {
		case got.panic != nil:
			t.Fatalf("page %d zeroed: the read panicked: %v", page, got.panic)
		case got.headerErr != nil:
			outcomes["refused at open"]++
			continue
		}
		written := map[uint64]envRec{}
		for _, r := range c.recs {
			written[r.pos] = r
		}
		n := 0
		for _, r := range got.recs {
			if w, ok := written[r.pos]; !ok || !bytes.Equal(w.payload, r.payload) {
				n++
			}
		}
		bogus += n
		end := sentinel(got.end)
		switch {
		case bytes.Equal(img, c.img):
			outcomes["page already zero"]++
		case n > 0 && end == "closed":
			outcomes["records never written handed out, then closed"]++
		case n > 0:
			outcomes["records never written handed out, then "+end]++
		case end == "closed" && len(got.recs) < len(c.recs):
			outcomes["records lost silently, then closed"]++
		default:
			outcomes[fmt.Sprintf("only written records, then %s", end)]++
		}
	}
	t.Logf("plain channel, %d pages zeroed: %v; %d records handed out that were never written", pages, outcomes, bogus)
}

// firstChanged returns the first offset where a and b differ.
func firstChanged(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
