package jetstream

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kekbit-go/kekbit/domain"
)

// Message headers of the replication stream. Every message carries
// HeaderChannel; a record message carries HeaderPos and, when heartbeats
// came before it, HeaderGap; marker messages carry HeaderMarker.
const (
	// HeaderChannel is the channel id, 16 lowercase hex digits.
	HeaderChannel = "Kekbit-Channel"
	// HeaderPos is a record's position in the channel (decimal); on an
	// idle or end marker, the position the channel had reached.
	HeaderPos = "Kekbit-Pos"
	// HeaderGap is the number of heartbeat bytes between the end of the
	// previous message's record (or position, for a marker) and this
	// message's position (decimal); absent when 0.
	HeaderGap = "Kekbit-Gap"
	// HeaderMarker names a marker message: MarkerHeader, MarkerIdle or
	// MarkerEnd. Record messages do not have it.
	HeaderMarker = "Kekbit-Marker"
	// HeaderEnd, on the end marker, says how the channel ended: "closed"
	// or "full".
	HeaderEnd = "Kekbit-End"
	// HeaderJournalEnd, "true" on the end marker of a journal's segment
	// that carries the journal end mark (the journal's writer closed it
	// there; see ReplicateJournal).
	HeaderJournalEnd = "Kekbit-Journal-End"
	// HeaderNext, on a batch, is the channel position right after its
	// last element (decimal); HeaderPos is the position of its first.
	HeaderNext = "Kekbit-Next"

	// The channel's header fields, on the header marker, for people and
	// tools (the marker's payload, the encoded 128-byte header, is what a
	// mirror uses).

	// HeaderVersion is the format version, e.g. "1.0.0".
	HeaderVersion = "Kekbit-Version"
	// HeaderWriterID is the writer id (decimal).
	HeaderWriterID = "Kekbit-Writer-Id"
	// HeaderCapacity is the capacity in bytes (decimal).
	HeaderCapacity = "Kekbit-Capacity"
	// HeaderMaxMsgLen is the max record length (decimal).
	HeaderMaxMsgLen = "Kekbit-Max-Msg-Len"
	// HeaderTimeout is the timeout in ticks (decimal).
	HeaderTimeout = "Kekbit-Timeout"
	// HeaderTickUnit is the tick unit: nanos, micros, millis or secs.
	HeaderTickUnit = "Kekbit-Tick-Unit"
	// HeaderCreationTime is the creation time in ticks since the Unix
	// epoch (decimal).
	HeaderCreationTime = "Kekbit-Creation-Time"
)

// Marker kinds, the values of HeaderMarker.
const (
	// MarkerHeader is the first message of a channel's replication; its
	// payload is the channel's 128-byte header.
	MarkerHeader = "header"
	// MarkerIdle says the channel holds heartbeats, HeaderGap bytes of
	// them, up to HeaderPos, so a mirror writes heartbeats too. Replicate
	// publishes one per heartbeat (HeaderGap 8); streams of earlier
	// versions have some covering several.
	MarkerIdle = "idle"
	// MarkerEnd is the last message: the channel was closed or is full at
	// HeaderPos (HeaderEnd says which).
	MarkerEnd = "end"
	// MarkerBatch is a message of several elements (records and
	// heartbeats) from HeaderPos to HeaderNext, in the batch format (see
	// the package documentation). Replicate publishes every record and
	// heartbeat in batches.
	MarkerBatch = "batch"
)

// BatchVersion is the first byte of a batch's payload: the version of
// the batch format this package writes (and the only one it reads).
const BatchVersion = 1

// Ends of a channel, the values of HeaderEnd.
const (
	// EndClosed: the writer closed the channel.
	EndClosed = "closed"
	// EndFull: the channel is full.
	EndFull = "full"
)

// Subject returns the default subject of channel id's replication:
// "kekbit." followed by the id in 16 lowercase hex digits.
func Subject(id uint64) string { return "kekbit." + hexID(id) }

// StreamName returns the default stream of channel id's replication:
// "KEKBIT_" followed by the id in 16 lowercase hex digits.
func StreamName(id uint64) string { return "KEKBIT_" + hexID(id) }

func hexID(id uint64) string { return fmt.Sprintf("%016x", id) }

// MsgID returns the JetStream message id (Nats-Msg-Id) that streams of
// earlier versions gave the record at position pos of channel id:
// "<id in hex>:<pos>". Markers have "<id>:header", "<id>:idle:<pos>" and
// "<id>:end"; a batch from pos to next has BatchMsgID.
func MsgID(id, pos uint64) string { return hexID(id) + ":" + strconv.FormatUint(pos, 10) }

// BatchMsgID returns the message id of the batch of channel id that holds
// the channel from position pos to next: "<id in hex>:<pos>-<next>". The
// channel's bytes there are fixed, so two batches with one id hold the
// same elements.
func BatchMsgID(id, pos, next uint64) string { return batchMsgID(hexID(id), pos, next) }

func batchMsgID(channel string, pos, next uint64) string {
	return channel + ":" + strconv.FormatUint(pos, 10) + "-" + strconv.FormatUint(next, 10)
}

// Errors of the package; test them with errors.Is.
var (
	// ErrMismatch: the stream and the local channel disagree (another
	// channel, a record with other bytes or at another position, a stream
	// holding messages of other subjects). Replication cannot go on
	// without losing or reordering records; it stops.
	ErrMismatch = errors.New("kekbit: jetstream: stream and channel disagree")
	// ErrBadMessage: a message of the stream is not a replication message
	// this package understands.
	ErrBadMessage = errors.New("kekbit: jetstream: not a kekbit replication message")
	// ErrStreamLimits: the stream's configuration drops messages by
	// itself (max_age, max_msgs or max_bytes with discard old,
	// max_msgs_per_subject, a retention other than limits), so that a
	// mirror could not be made from it once they are gone; the
	// replicator refuses it unless told to accept it.
	ErrStreamLimits = errors.New("kekbit: jetstream: the stream's limits drop messages")
	// ErrStreamLost: the stream lost messages of the replication (they
	// expired, were deleted or purged): it is empty though it has held
	// messages, or its first message is not the header marker. The
	// replicator does not publish the channel into it again, and a mirror
	// cannot be made from it.
	ErrStreamLost = errors.New("kekbit: jetstream: the stream lost messages of the replication")
	// ErrReplicatorRunning: another replicator of the channel into the
	// same stream runs on this machine (it holds the lock file next to
	// the channel).
	ErrReplicatorRunning = errors.New("kekbit: jetstream: another replicator of the channel into the stream is running")
)

// element is one message of a channel's replication, as read back from
// the stream.
type element struct {
	seq     uint64 // stream sequence
	channel uint64
	marker  string // "" for a record
	end     string // for MarkerEnd
	jend    bool   // for MarkerEnd: the journal ended (HeaderJournalEnd)
	pos     uint64 // position (not for MarkerHeader); a batch's first
	next    uint64 // a batch's end
	gap     uint64
	env     uint64 // the channel's envelope length: a record takes RecordSize(env+len(data))
	time    uint64 // a record's time, in the channel's ticks, if timed
	timed   bool   // the batch carried the record's time (EnvelopeTime)
	data    []byte
	hdr     nats.Header
}

// endPos returns the position right after the element: after its record,
// or its position for a marker (0 for the header marker), or after a
// batch.
func (e *element) endPos() uint64 {
	if e.marker == MarkerBatch {
		return e.next
	}
	if e.marker == "" {
		return e.pos + domain.RecordSize(e.env+uint64(len(e.data)))
	}
	return e.pos
}

// parseElement decodes a replication message.
func parseElement(seq uint64, h nats.Header, data []byte) (*element, error) {
	e := &element{seq: seq, data: data, hdr: h}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: stream sequence %d: %s", ErrBadMessage, seq, fmt.Sprintf(format, args...))
	}
	ch := h.Get(HeaderChannel)
	id, err := strconv.ParseUint(ch, 16, 64)
	if err != nil {
		return nil, bad("%s %q", HeaderChannel, ch)
	}
	e.channel = id
	e.marker = h.Get(HeaderMarker)
	switch e.marker {
	case MarkerHeader:
		return e, nil
	case "", MarkerIdle, MarkerEnd, MarkerBatch:
	default:
		return nil, bad("%s %q", HeaderMarker, e.marker)
	}
	if e.pos, err = strconv.ParseUint(h.Get(HeaderPos), 10, 64); err != nil || e.pos%8 != 0 {
		return nil, bad("%s %q", HeaderPos, h.Get(HeaderPos))
	}
	if g := h.Get(HeaderGap); g != "" {
		if e.gap, err = strconv.ParseUint(g, 10, 64); err != nil || e.gap%8 != 0 || e.gap > e.pos {
			return nil, bad("%s %q", HeaderGap, g)
		}
	}
	if e.marker == MarkerBatch {
		if e.next, err = strconv.ParseUint(h.Get(HeaderNext), 10, 64); err != nil || e.next%8 != 0 || e.next <= e.pos || e.gap != 0 {
			return nil, bad("batch from %s to %s %q", HeaderPos, HeaderNext, h.Get(HeaderNext))
		}
		if len(data) == 0 || data[0] != BatchVersion {
			v := -1
			if len(data) > 0 {
				v = int(data[0])
			}
			return nil, bad("batch format version %d (this package reads version %d)", v, BatchVersion)
		}
		return e, nil
	}
	if e.marker == MarkerEnd {
		e.end = h.Get(HeaderEnd)
		if e.end != EndClosed && e.end != EndFull {
			return nil, bad("%s %q", HeaderEnd, e.end)
		}
		switch j := h.Get(HeaderJournalEnd); j {
		case "", "true":
			e.jend = j != ""
		default:
			return nil, bad("%s %q", HeaderJournalEnd, j)
		}
	}
	if e.marker == "" && len(data) == 0 {
		return nil, bad("empty record")
	}
	return e, nil
}

// header decodes the channel header a header marker carries.
func (e *element) header() (domain.Header, error) {
	h, err := domain.DecodeHeader(e.data)
	if err != nil {
		return h, fmt.Errorf("%w: stream sequence %d: header marker: %w", ErrBadMessage, e.seq, err)
	}
	if h.ChannelID != e.channel {
		return h, fmt.Errorf("%w: stream sequence %d: header marker of channel %#x says %s %s", ErrBadMessage, e.seq, h.ChannelID, HeaderChannel, hexID(e.channel))
	}
	return h, nil
}

// walk decodes the message e for a channel of header h and checks it
// whole before fn sees any of it, so that a message that is wrong
// anywhere is refused (ErrBadMessage, naming what is wrong) before any of
// its elements is applied. fn, if not nil, is then called with each
// record (beats 0) and each run of heartbeats (el the first of them, an
// idle marker at the position after it, beats how many there are: the
// others follow 8 bytes apart) in chain order; e itself, if it is not a
// batch. The element fn gets is reused from one call to the next; its
// data points into e's. An error of fn stops the walk and is returned.
//
// A batch decodes with the envelope of h: a record's payload goes
// without it, takes RecordSize(env+len) of the channel and, with
// EnvelopeTime, comes after its time. The work and memory it takes are
// those of e's bytes, whatever lengths and counts they claim. Every
// message must fit in its positions: a batch's elements end exactly at
// its HeaderNext, no position wraps around. For the elements of h's
// channel (e.channel is h.ChannelID; none for a zero h, which only the
// tests give) it also checks the channel's limits: nothing past its
// capacity, no record longer than its max payload, no time that its tick
// unit cannot hold (a source's writer never writes those).
func (e *element) walk(h domain.Header, fn func(el *element, beats uint64) error) error {
	env, timed := h.Envelope.Len(), h.Envelope.Has(domain.EnvelopeTime)
	e.env = env
	limited := h.Capacity != 0 && e.channel == h.ChannelID
	capacity, maxPayload := uint64(h.Capacity), uint64(h.MaxPayload())
	maxTime := uint64(math.MaxUint64)
	if d := uint64(h.TickUnit.Duration()); d != 0 {
		maxTime = math.MaxInt64 / d
	}
	if e.marker != MarkerBatch {
		if err := e.fits(limited, capacity, maxPayload); err != nil {
			return err
		}
		if fn == nil {
			return nil
		}
		return fn(e, 0)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: stream sequence %d: batch from %d to %d: %s", ErrBadMessage, e.seq, e.pos, e.next, fmt.Sprintf(format, args...))
	}
	if limited && e.next > capacity {
		return bad("%s %d is past the channel's capacity %d", HeaderNext, e.next, capacity)
	}
	if len(e.data) == 0 || e.data[0] != BatchVersion {
		return bad("not a batch of version %d", BatchVersion)
	}
	// Two passes: the first checks, the second calls fn.
	for pass := range 2 {
		if pass == 1 && fn == nil {
			break
		}
		pos, b := e.pos, e.data[1:]
		for len(b) > 0 {
			n, k := binary.Uvarint(b)
			if k <= 0 {
				return bad("a bad length (uvarint) at position %d", pos)
			}
			b = b[k:]
			if n == 0 {
				c, k := binary.Uvarint(b)
				switch {
				case k <= 0:
					return bad("a bad count of heartbeats (uvarint) at position %d", pos)
				case c == 0:
					return bad("a run of 0 heartbeats at position %d", pos)
				case c > (e.next-pos)/domain.RecordHeaderLen:
					return bad("%d heartbeats at position %d overrun its end", c, pos)
				}
				b = b[k:]
				if pass == 1 {
					el := element{seq: e.seq, channel: e.channel, marker: MarkerIdle, pos: pos + domain.RecordHeaderLen, gap: domain.RecordHeaderLen}
					if err := fn(&el, c); err != nil {
						return err
					}
				}
				pos += c * domain.RecordHeaderLen
				continue
			}
			var t uint64
			if timed {
				if t, k = binary.Uvarint(b); k <= 0 {
					return bad("a bad time (uvarint) at position %d", pos)
				}
				if t > maxTime && limited {
					return bad("the record at position %d has time %d, more than %s ticks can hold", pos, t, h.TickUnit)
				}
				b = b[k:]
			}
			switch {
			case n > uint64(len(b)):
				return bad("a record of %d bytes at position %d, %d left in the message", n, pos, len(b))
			case domain.RecordSize(env+n) > e.next-pos:
				return bad("a record of %d bytes at position %d overruns its end", n, pos)
			case limited && n > maxPayload:
				return bad("a record of %d bytes at position %d, more than the channel's max payload %d", n, pos, maxPayload)
			}
			if pass == 1 {
				el := element{seq: e.seq, channel: e.channel, pos: pos, env: env, time: t, timed: timed, data: b[:n:n]}
				if err := fn(&el, 0); err != nil {
					return err
				}
			}
			pos += domain.RecordSize(env + n)
			b = b[n:]
		}
		if pos != e.next {
			return bad("its elements end at %d, not at its %s", pos, HeaderNext)
		}
	}
	return nil
}

// fits checks that the element e, not a batch, fits in its positions
// and, if limited, in the channel's capacity and max payload.
func (e *element) fits(limited bool, capacity, maxPayload uint64) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: stream sequence %d: %s", ErrBadMessage, e.seq, fmt.Sprintf(format, args...))
	}
	end := e.pos
	if e.marker == "" {
		n := uint64(len(e.data))
		if size := domain.RecordSize(e.env + n); size > math.MaxUint64-e.pos {
			return bad("a record of %d bytes at position %d ends past the largest position", n, e.pos)
		} else {
			end += size
		}
		if limited && n > maxPayload {
			return bad("a record of %d bytes at position %d, more than the channel's max payload %d", n, e.pos, maxPayload)
		}
	}
	if limited && end > capacity {
		return bad("%s %d: it ends at %d, past the channel's capacity %d", HeaderPos, e.pos, end, capacity)
	}
	return nil
}

// check checks the message e whole for a channel of header h, as walk.
func (e *element) check(h domain.Header) error { return e.walk(h, nil) }

// each calls fn with every element of the message e, in chain order,
// once walk has checked all of it: e itself, or each record and
// heartbeat of a batch (a record as an element with no marker, a
// heartbeat as an idle marker at the position after it, gap 8, as
// streams of earlier versions had them), for a channel of header h (see
// walk). The element fn gets is reused from one call to the next; its
// data points into e's. A message that does not check is ErrBadMessage,
// and fn sees none of it; an error of fn stops the walk and is returned.
func (e *element) each(h domain.Header, fn func(*element) error) error {
	return e.walk(h, func(el *element, beats uint64) error {
		if beats == 0 {
			return fn(el)
		}
		for range beats {
			if err := fn(el); err != nil {
				return err
			}
			el.pos += domain.RecordHeaderLen
		}
		return nil
	})
}

// last returns the last element of the message e (e itself if it is not
// a batch), a copy, once walk has checked e; h as for walk. It takes the
// time of e's bytes, not of the heartbeats they count.
func (e *element) last(h domain.Header) (*element, error) {
	var l element
	if err := e.walk(h, func(el *element, beats uint64) error {
		l = *el
		if beats > 0 {
			l.pos += (beats - 1) * domain.RecordHeaderLen
		}
		return nil
	}); err != nil {
		return nil, err
	}
	return &l, nil
}

// firstFrom returns the first element of the message e that does not
// come before the element of the given rank at position target of
// channel ch (see before), a copy, nil if there is none, once walk has
// checked e; h as for walk. A run of heartbeats is not walked one by
// one.
func (e *element) firstFrom(h domain.Header, ch, target uint64, rank int) (*element, error) {
	var found *element
	errFound := errors.New("found")
	err := e.walk(h, func(el *element, beats uint64) error {
		if beats == 0 {
			if !el.before(ch, target, rank) {
				c := *el
				found = &c
				return errFound
			}
			return nil
		}
		// The heartbeats at el.pos, el.pos+8, ...: the first not before.
		c := *el
		if el.before(ch, target, rank) {
			if el.channel != ch {
				return nil // all of them, in a segment before ch
			}
			from := target
			if rank > rankIdle {
				from += domain.RecordHeaderLen // the one at target comes before
			}
			k := (from - el.pos) / domain.RecordHeaderLen
			if k >= beats {
				return nil
			}
			c.pos += k * domain.RecordHeaderLen
		}
		found = &c
		return errFound
	})
	if err != nil && err != errFound {
		return nil, err
	}
	return found, nil
}

// batch builds the payload of a batch message: BatchVersion, then each
// element: a record as its length (uvarint, never 0), its time (uvarint,
// for a channel whose envelope has EnvelopeTime) and its bytes, a run of
// heartbeats as 0 and their count (uvarint).
type batch struct {
	env        uint64 // the channel's envelope length
	timed      bool   // the envelope has EnvelopeTime: each record's time goes too
	buf        []byte
	start, end uint64 // the channel positions it covers
	beats      uint64 // heartbeats at its end not yet in buf
	elements   int
	records    uint64
}

func (b *batch) reset(start uint64) {
	b.buf = append(b.buf[:0], BatchVersion)
	b.start, b.end, b.beats, b.elements, b.records = start, start, 0, 0, 0
}

func (b *batch) empty() bool { return b.end == b.start }

// heartbeatsTo adds the heartbeats from the batch's end to pos.
func (b *batch) heartbeatsTo(pos uint64) {
	if pos > b.end {
		n := (pos - b.end) / domain.RecordHeaderLen
		b.beats += n
		b.elements += int(n)
		b.end = pos
	}
}

func (b *batch) flushBeats() {
	if b.beats > 0 {
		b.buf = append(b.buf, 0)
		b.buf = binary.AppendUvarint(b.buf, b.beats)
		b.beats = 0
	}
}

// record adds the record p of time t (ignored unless timed), which must
// be at the batch's end.
func (b *batch) record(p []byte, t uint64) {
	b.flushBeats()
	b.buf = binary.AppendUvarint(b.buf, uint64(len(p)))
	if b.timed {
		b.buf = binary.AppendUvarint(b.buf, t)
	}
	b.buf = append(b.buf, p...)
	b.end += domain.RecordSize(b.env + uint64(len(p)))
	b.elements++
	b.records++
}

// message returns the batch's message; its data is the batch's buffer,
// which must not change until the message is acknowledged or dropped.
func (b *batch) message(subject, channel string) *nats.Msg {
	b.flushBeats()
	m := &nats.Msg{Subject: subject, Data: b.buf, Header: make(nats.Header, 6)}
	m.Header[HeaderChannel] = []string{channel}
	m.Header[HeaderMarker] = []string{MarkerBatch}
	m.Header[HeaderPos] = []string{strconv.FormatUint(b.start, 10)}
	m.Header[HeaderNext] = []string{strconv.FormatUint(b.end, 10)}
	m.Header[jetstream.MsgIDHeader] = []string{batchMsgID(channel, b.start, b.end)}
	return m
}

// headerMessage builds the header marker of a channel.
func headerMessage(subject string, h domain.Header) *nats.Msg {
	b, _ := h.MarshalBinary()
	m := nats.NewMsg(subject)
	m.Data = b
	m.Header[HeaderChannel] = []string{hexID(h.ChannelID)}
	m.Header[HeaderMarker] = []string{MarkerHeader}
	m.Header[HeaderVersion] = []string{h.Version.String()}
	m.Header[HeaderWriterID] = []string{strconv.FormatUint(h.WriterID, 10)}
	m.Header[HeaderCapacity] = []string{strconv.FormatUint(uint64(h.Capacity), 10)}
	m.Header[HeaderMaxMsgLen] = []string{strconv.FormatUint(uint64(h.MaxMsgLen), 10)}
	m.Header[HeaderTimeout] = []string{strconv.FormatUint(h.Timeout, 10)}
	m.Header[HeaderTickUnit] = []string{strings.ToLower(h.TickUnit.String())}
	m.Header[HeaderCreationTime] = []string{strconv.FormatUint(h.CreationTime, 10)}
	m.Header[jetstream.MsgIDHeader] = []string{hexID(h.ChannelID) + ":header"}
	return m
}

// markerMessage builds an idle or end marker at pos, after gap bytes of
// heartbeats.
func markerMessage(subject, channel, marker, end string, pos, gap uint64) *nats.Msg {
	m := nats.NewMsg(subject)
	p := strconv.FormatUint(pos, 10)
	m.Header[HeaderChannel] = []string{channel}
	m.Header[HeaderMarker] = []string{marker}
	m.Header[HeaderPos] = []string{p}
	if gap != 0 {
		m.Header[HeaderGap] = []string{strconv.FormatUint(gap, 10)}
	}
	id := channel + ":end"
	if marker == MarkerEnd {
		m.Header[HeaderEnd] = []string{end}
	} else {
		id = channel + ":" + marker + ":" + p
	}
	m.Header[jetstream.MsgIDHeader] = []string{id}
	return m
}

// streamAPI asks a stream's leader for messages and state. It does not use
// direct gets: with them any replica may answer, and one that lags would
// give an old last message, from which a replicator would resume wrongly.
type streamAPI struct {
	nc      *nats.Conn
	prefix  string // "$JS.API."
	stream  string
	timeout time.Duration
}

type apiError struct {
	Code        int    `json:"code"`
	ErrCode     uint16 `json:"err_code"`
	Description string `json:"description"`
}

func (e *apiError) Error() string {
	return fmt.Sprintf("nats: API error %d (%d): %s", e.Code, e.ErrCode, e.Description)
}

// errNoMessage is the answer for a message that does not exist.
var errNoMessage = errors.New("kekbit: jetstream: no such message")

const jsErrCodeMessageNotFound = 10037

func (a *streamAPI) request(ctx context.Context, subject string, req, resp any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	m, err := a.nc.RequestWithContext(ctx, a.prefix+subject, body)
	if err != nil {
		return fmt.Errorf("kekbit: jetstream: %s: %w", subject, err)
	}
	if err := json.Unmarshal(m.Data, resp); err != nil {
		return fmt.Errorf("kekbit: jetstream: %s: bad answer: %w", subject, err)
	}
	return nil
}

// rawMsg is a message of the stream as the leader returns it.
type rawMsg struct {
	subject string
	seq     uint64
	hdr     nats.Header
	data    []byte
}

// get returns a message of the stream: the one at seq; with subject, the
// first on subject at or after seq; with last, the last on subject. A
// missing message is errNoMessage.
func (a *streamAPI) get(ctx context.Context, seq uint64, subject string, last bool) (*rawMsg, error) {
	type request struct {
		Seq    uint64 `json:"seq,omitempty"`
		LastBy string `json:"last_by_subj,omitempty"`
		NextBy string `json:"next_by_subj,omitempty"`
	}
	req := request{Seq: seq}
	switch {
	case last:
		req = request{LastBy: subject}
	case subject != "":
		req.NextBy = subject
	}
	var resp struct {
		Error   *apiError `json:"error"`
		Message *struct {
			Subject string `json:"subject"`
			Seq     uint64 `json:"seq"`
			Hdrs    []byte `json:"hdrs"`
			Data    []byte `json:"data"`
		} `json:"message"`
	}
	if err := a.request(ctx, "STREAM.MSG.GET."+a.stream, req, &resp); err != nil {
		return nil, err
	}
	if resp.Error != nil {
		if resp.Error.ErrCode == jsErrCodeMessageNotFound {
			return nil, errNoMessage
		}
		return nil, fmt.Errorf("kekbit: jetstream: getting a message of stream %s: %w", a.stream, resp.Error)
	}
	if resp.Message == nil {
		return nil, fmt.Errorf("kekbit: jetstream: getting a message of stream %s: empty answer", a.stream)
	}
	m := &rawMsg{subject: resp.Message.Subject, seq: resp.Message.Seq, data: resp.Message.Data}
	if len(resp.Message.Hdrs) > 0 {
		h, err := nats.DecodeHeadersMsg(resp.Message.Hdrs)
		if err != nil {
			return nil, fmt.Errorf("%w: stream %s, sequence %d: headers: %w", ErrBadMessage, a.stream, m.seq, err)
		}
		m.hdr = h
	}
	return m, nil
}

// element parses a message got from the stream, which must be on subject.
func (a *streamAPI) element(m *rawMsg, subject string) (*element, error) {
	if m.subject != subject {
		return nil, fmt.Errorf("%w: stream %s holds a message on %q at sequence %d, where %q was expected: give each channel a stream of its own", ErrMismatch, a.stream, m.subject, m.seq, subject)
	}
	return parseElement(m.seq, m.hdr, m.data)
}

// state returns the stream's last sequence and message count, from its
// leader.
func (a *streamAPI) state(ctx context.Context) (lastSeq, msgs uint64, err error) {
	var resp struct {
		Error *apiError `json:"error"`
		State struct {
			Msgs    uint64 `json:"messages"`
			LastSeq uint64 `json:"last_seq"`
		} `json:"state"`
	}
	if err := a.request(ctx, "STREAM.INFO."+a.stream, struct{}{}, &resp); err != nil {
		return 0, 0, err
	}
	if resp.Error != nil {
		return 0, 0, fmt.Errorf("kekbit: jetstream: stream %s: %w", a.stream, resp.Error)
	}
	return resp.State.LastSeq, resp.State.Msgs, nil
}
