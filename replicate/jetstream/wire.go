package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
)

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

// MsgID returns the JetStream message id (Nats-Msg-Id) of the record at
// position pos of channel id: "<id in hex>:<pos>". Markers have
// "<id>:header", "<id>:idle:<pos>" and "<id>:end".
func MsgID(id, pos uint64) string { return hexID(id) + ":" + strconv.FormatUint(pos, 10) }

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
	pos     uint64 // position (not for MarkerHeader)
	gap     uint64
	data    []byte
	hdr     nats.Header
}

// endPos returns the position right after the element: after its record,
// or its position for a marker (0 for the header marker).
func (e *element) endPos() uint64 {
	if e.marker == "" {
		return e.pos + domain.RecordSize(uint64(len(e.data)))
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
	case "", MarkerIdle, MarkerEnd:
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
	if e.marker == MarkerEnd {
		e.end = h.Get(HeaderEnd)
		if e.end != EndClosed && e.end != EndFull {
			return nil, bad("%s %q", HeaderEnd, e.end)
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

// recordMessage builds the message of the record at pos, which follows
// gap bytes of heartbeats. It copies payload.
func recordMessage(subject, channel string, pos, gap uint64, payload []byte) *nats.Msg {
	m := &nats.Msg{Subject: subject, Data: append([]byte(nil), payload...), Header: make(nats.Header, 5)}
	p := strconv.FormatUint(pos, 10)
	m.Header[HeaderChannel] = []string{channel}
	m.Header[HeaderPos] = []string{p}
	if gap != 0 {
		m.Header[HeaderGap] = []string{strconv.FormatUint(gap, 10)}
	}
	m.Header[jetstream.MsgIDHeader] = []string{channel + ":" + p}
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
