package jetstream_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/replicate/jetstream"
)

// long reports whether the long variants run (KEKBIT_LONG=1).
func long() bool { return os.Getenv("KEKBIT_LONG") == "1" }

// scaled is n, or a fifth of it under the race detector.
func scaled(n int) int {
	if raceEnabled {
		return n / 5
	}
	return n
}

// serverOptions are the options of an embedded JetStream server on
// loopback that keeps its data in dir.
func serverOptions(dir string, port int) *server.Options {
	return &server.Options{
		Host:      "127.0.0.1",
		Port:      port,
		JetStream: true,
		StoreDir:  dir,
		NoLog:     true,
		NoSigs:    true,
		// Generous limits for the 1M-record run.
		JetStreamMaxMemory: 1 << 30,
		JetStreamMaxStore:  8 << 30,
	}
}

// startServer starts an embedded JetStream server in a temp dir and
// returns it with its client URL. It is shut down at the end of the test.
func startServer(t testing.TB) (*server.Server, string) {
	t.Helper()
	return startServerWith(t, serverOptions(t.TempDir(), -1))
}

func startServerWith(t testing.TB, opts *server.Options) (*server.Server, string) {
	t.Helper()
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		t.Fatal("the embedded NATS server did not start")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s, s.ClientURL()
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// testHeader is the header of a test channel of the given capacity and
// max record length.
func testHeader(t testing.TB, id uint64, capacity, maxMsg uint32) domain.Header {
	t.Helper()
	h, err := domain.NewHeader(domain.Hints{WriterID: 77, ChannelID: id, Capacity: capacity, MaxMsgLen: maxMsg,
		Timeout: 60_000, TickUnit: domain.Millis})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// payloadOf is the payload of record i: 16 to 64 bytes that depend on i.
func payloadOf(i int) []byte {
	rng := rand.New(rand.NewPCG(uint64(i), 99))
	b := make([]byte, 16+rng.IntN(49))
	for j := range b {
		b[j] = byte(rng.Uint32())
	}
	copy(b, strconv.Itoa(i))
	return b
}

// writeRecords writes records from..to-1 to w, a heartbeat after some of
// them, pausing now and then when pace is set. It returns the first error.
func writeRecords(w *domain.Writer[[]byte], from, to int, pace bool) error {
	for i := from; i < to; i++ {
		if _, err := w.Write(payloadOf(i)); err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
		if i%97 == 0 {
			if _, err := w.Heartbeat(); err != nil {
				return err
			}
		}
		if pace && i%500 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	return nil
}

type rec struct {
	pos  uint64
	data []byte
}

// readChannel reads the whole channel file at path: its records and how
// it ends.
func readChannel(t testing.TB, path string) (domain.Header, []rec, uint64, error) {
	t.Helper()
	st, err := mmap.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := domain.NewReader(st)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []rec
	_, end := r.Read(func(record domain.Record) error {
		pos, p := record.Position, record.Payload
		out = append(out, rec{pos, bytes.Clone(p)})
		return nil
	}, 0)
	return r.Header(), out, r.Position(), end
}

// sameChannels checks that the mirror channel file is the source's byte
// for byte, from the header to the close mark, and that its reader yields
// the same records at the same positions and the same end.
func sameChannels(t testing.TB, src, mir string) int {
	t.Helper()
	hs, rs, ps, es := readChannel(t, src)
	hm, rm, pm, em := readChannel(t, mir)
	if hs != hm {
		t.Fatalf("headers differ:\n source %+v\n mirror %+v", hs, hm)
	}
	if len(rs) != len(rm) {
		t.Fatalf("source has %d records, mirror %d", len(rs), len(rm))
	}
	for i := range rs {
		if rs[i].pos != rm[i].pos || !bytes.Equal(rs[i].data, rm[i].data) {
			t.Fatalf("record %d: source %d %x, mirror %d %x", i, rs[i].pos, rs[i].data, rm[i].pos, rm[i].data)
		}
	}
	if ps != pm || fmt.Sprint(es) != fmt.Sprint(em) {
		t.Fatalf("ends differ: source %v at %d, mirror %v at %d", es, ps, em, pm)
	}
	a, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(mir)
	if err != nil {
		t.Fatal(err)
	}
	n := min(int(domain.DataOffset+ps+8), len(a))
	if len(a) != len(b) || !bytes.Equal(a[:n], b[:n]) {
		i := 0
		for i < n && a[i] == b[i] {
			i++
		}
		t.Fatalf("files differ at byte %d (of %d compared)", i, n)
	}
	return len(rs)
}

// element is a message of the replication stream, read back.
type element struct {
	seq    uint64
	marker string
	end    string
	pos    uint64
	gap    uint64
	data   []byte
	msgID  string // of its message
	batch  bool   // it is in a batch
}

// readStream reads every message on subject of the stream at url, in
// order, until it has read the stream's last one, and returns their
// elements (a batch's records and heartbeats one by one).
func readStream(t testing.TB, url, stream, subject string) []element {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := natsjs.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	last := info.State.LastSeq
	cons, err := js.OrderedConsumer(ctx, stream, natsjs.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		t.Fatal(err)
	}
	it, err := cons.Messages(natsjs.PullMaxMessages(4096))
	if err != nil {
		t.Fatal(err)
	}
	defer it.Stop()
	var out []element
	for len(out) == 0 || out[len(out)-1].seq < last {
		msg, err := it.Next(natsjs.NextContext(ctx))
		if err != nil {
			t.Fatalf("reading the stream after %d messages: %v", len(out), err)
		}
		md, err := msg.Metadata()
		if err != nil {
			t.Fatal(err)
		}
		h := msg.Headers()
		els, err := jetstream.Elements(md.Sequence.Stream, h, bytes.Clone(msg.Data()))
		if err != nil {
			t.Fatalf("stream sequence %d: %v", md.Sequence.Stream, err)
		}
		for _, x := range els {
			out = append(out, element{seq: md.Sequence.Stream, marker: x.Marker, end: x.End, pos: x.Pos, gap: x.Gap,
				data: x.Data, msgID: h.Get(natsjs.MsgIDHeader), batch: h.Get(jetstream.HeaderMarker) == jetstream.MarkerBatch})
		}
	}
	return out
}

// checkStream checks that the stream holds the channel at path exactly
// once and in order: a header marker, every record once at its position
// in order (idle markers allowed between), the end marker, and nothing
// else. It returns the number of records.
func checkStream(t testing.TB, url, stream, subject, path string) int {
	t.Helper()
	n, err := verifyStream(t, url, stream, subject, path)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// verifyStream is checkStream that returns what is wrong instead of
// failing the test.
func verifyStream(t testing.TB, url, stream, subject, path string) (int, error) {
	t.Helper()
	h, recs, endPos, end := readChannel(t, path)
	els := readStream(t, url, stream, subject)
	if len(els) < 2 || els[0].marker != jetstream.MarkerHeader {
		return 0, fmt.Errorf("the stream does not start with a header marker (%d messages)", len(els))
	}
	if hb, _ := h.MarshalBinary(); !bytes.Equal(els[0].data, hb) {
		return 0, errors.New("the header marker does not carry the channel's header")
	}
	seen := map[string]uint64{}
	var prevEnd uint64
	i := 0
	for k, e := range els[1:] {
		if s, ok := seen[e.msgID]; ok && s != e.seq {
			return i, fmt.Errorf("message id %s twice", e.msgID)
		}
		seen[e.msgID] = e.seq
		if e.pos-e.gap != prevEnd {
			return i, fmt.Errorf("message %d (seq %d) at %d with gap %d does not follow %d", k+1, e.seq, e.pos, e.gap, prevEnd)
		}
		switch e.marker {
		case "":
			if i >= len(recs) {
				return i, fmt.Errorf("the stream has more records than the channel (%d)", len(recs))
			}
			if e.pos != recs[i].pos || !bytes.Equal(e.data, recs[i].data) {
				return i, fmt.Errorf("stream record %d (seq %d) at %d, channel's at %d", i, e.seq, e.pos, recs[i].pos)
			}
			if !e.batch && e.msgID != jetstream.MsgID(h.ChannelID, e.pos) {
				return i, fmt.Errorf("message id %q at %d", e.msgID, e.pos)
			}
			prevEnd = e.pos + domain.RecordSize(uint64(len(e.data)))
			i++
		case jetstream.MarkerIdle:
			prevEnd = e.pos
		case jetstream.MarkerEnd:
			if k != len(els)-2 {
				return i, fmt.Errorf("end marker at seq %d is not the last message", e.seq)
			}
			want := jetstream.EndClosed
			if errors.Is(end, domain.ErrChannelFull) {
				want = jetstream.EndFull
			}
			if e.end != want || e.pos != endPos {
				return i, fmt.Errorf("end marker %s at %d, the channel ends %v at %d", e.end, e.pos, end, endPos)
			}
		default:
			return i, fmt.Errorf("unexpected marker %q", e.marker)
		}
	}
	if els[len(els)-1].marker != jetstream.MarkerEnd {
		return i, errors.New("the stream does not end with the end marker")
	}
	if i != len(recs) {
		return i, fmt.Errorf("the stream has %d records, the channel %d", i, len(recs))
	}
	return i, nil
}

// newChannel creates channel id under root with room for n records of the
// test payloads.
func newChannel(t testing.TB, root string, id uint64, n int) (*domain.Writer[[]byte], string) {
	t.Helper()
	capacity := uint32(min(uint64(n)*80+(1<<16), domain.MaxCapacity&^7))
	w, err := domain.Create(mmap.NewVolume(root), testHeader(t, id, capacity, 100), codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	return w, mmap.ChannelPath(root, id)
}

func shmDir(t testing.TB) string {
	t.Helper()
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		dir, err := os.MkdirTemp("/dev/shm", "kekbit-replicate-test-")
		if err == nil {
			t.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return filepath.Join(t.TempDir(), "channels")
}

// pacedWriter writes records to w, 50 a millisecond with a heartbeat now
// and then, until finish is closed or n are written; once finish is
// closed it closes w. It sends the number of records written, or an
// error.
func pacedWriter(w *domain.Writer[[]byte], n int, finish <-chan struct{}) <-chan any {
	out := make(chan any, 1)
	go func() {
		i := 0
		for ; i < n; i++ {
			if _, err := w.Write(payloadOf(i)); err != nil {
				out <- err
				return
			}
			if i%97 == 0 {
				w.Heartbeat()
			}
			if i%50 == 0 {
				select {
				case <-finish:
					n = i + 1
				case <-time.After(time.Millisecond):
				}
			}
		}
		<-finish
		if err := w.Close(); err != nil {
			out <- err
			return
		}
		out <- i
	}()
	return out
}
