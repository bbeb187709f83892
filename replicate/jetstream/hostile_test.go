package jetstream_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/replicate/jetstream"
)

// hostileBatch is a batch message of channel id from pos to next with
// the payload data (its version byte included).
func hostileBatch(subject string, id, pos, next uint64, data []byte) *nats.Msg {
	m := nats.NewMsg(subject)
	m.Data = data
	m.Header.Set(jetstream.HeaderChannel, fmt.Sprintf("%016x", id))
	m.Header.Set(jetstream.HeaderMarker, jetstream.MarkerBatch)
	m.Header.Set(jetstream.HeaderPos, strconv.FormatUint(pos, 10))
	m.Header.Set(jetstream.HeaderNext, strconv.FormatUint(next, 10))
	return m
}

// TestMirrorHostileStream: a stream holds a channel's replication, then
// a message someone with access to the stream published, crafted to
// break the mirror. The mirror stops with ErrBadMessage or ErrMismatch,
// its channel keeps exactly the records it had (the source's, at their
// positions) and stays where it was: nothing of the crafted message in
// it, not a heartbeat, not a record; a mirror started again stops at the
// same message and changes nothing either. (Before the mirror checked a
// message whole before applying it, an idle or end marker claiming a
// huge gap, a batch ending past the channel's capacity and a batch with
// a record longer than the max payload after a heartbeat had the mirror
// write heartbeats, up to filling its channel, before it stopped; a
// batch whose good records came before a bad end had those written.)
func TestMirrorHostileStream(t *testing.T) {
	_, url := startServer(t)
	ctx := testCtx(t)
	js := streamOf(t, url)
	const records = 50
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	rec := func(p []byte) []byte { return append(binary.AppendUvarint(nil, uint64(len(p))), p...) }
	beats := func(c uint64) []byte { return binary.AppendUvarint([]byte{0}, c) }
	v1 := func(parts ...[]byte) []byte { return append([]byte{jetstream.BatchVersion}, bytes.Join(parts, nil)...) }
	for i, c := range []struct {
		what string
		msg  func(subject string, id, at uint64, h domain.Header) *nats.Msg
		want error
	}{
		{"a batch of 2^62 heartbeats", func(s string, id, at uint64, _ domain.Header) *nats.Msg {
			return hostileBatch(s, id, at, at+8<<40, v1(beats(1<<62)))
		}, jetstream.ErrBadMessage},
		{"a batch past the capacity", func(s string, id, at uint64, h domain.Header) *nats.Msg {
			n := (uint64(h.Capacity)-at)/8 + 1
			return hostileBatch(s, id, at, at+8*n, v1(beats(n)))
		}, jetstream.ErrBadMessage},
		{"heartbeats, then a record longer than the max payload", func(s string, id, at uint64, h domain.Header) *nats.Msg {
			p := make([]byte, h.MaxPayload()+1)
			return hostileBatch(s, id, at, at+8+domain.RecordSize(uint64(len(p))), v1(beats(1), rec(p)))
		}, jetstream.ErrBadMessage},
		{"good records, then elements that end before Next", func(s string, id, at uint64, _ domain.Header) *nats.Msg {
			return hostileBatch(s, id, at, at+2*domain.RecordSize(3)+8, v1(rec([]byte("one")), rec([]byte("two"))))
		}, jetstream.ErrBadMessage},
		{"good records, then a length of 2^60", func(s string, id, at uint64, _ domain.Header) *nats.Msg {
			return hostileBatch(s, id, at, at+domain.RecordSize(3)+64, v1(rec([]byte("one")), binary.AppendUvarint(nil, 1<<60), []byte("short")))
		}, jetstream.ErrBadMessage},
		{"a record wrapping around 2^64", func(s string, id, at uint64, _ domain.Header) *nats.Msg {
			return hostileBatch(s, id, math.MaxUint64-15, math.MaxUint64-7, v1(rec(make([]byte, 100))))
		}, jetstream.ErrBadMessage},
		{"a batch of version 2", func(s string, id, at uint64, _ domain.Header) *nats.Msg {
			return hostileBatch(s, id, at, at+domain.RecordSize(3), []byte{2, 3, 'a', 'b', 'c'})
		}, jetstream.ErrBadMessage},
		{"an old idle marker with a gap of 2^40", func(s string, id, at uint64, _ domain.Header) *nats.Msg {
			m := nats.NewMsg(s)
			m.Header.Set(jetstream.HeaderChannel, fmt.Sprintf("%016x", id))
			m.Header.Set(jetstream.HeaderMarker, jetstream.MarkerIdle)
			m.Header.Set(jetstream.HeaderPos, u(at+8<<40))
			m.Header.Set(jetstream.HeaderGap, u(8<<40))
			return m
		}, jetstream.ErrBadMessage},
		{"an end marker past the capacity", func(s string, id, at uint64, h domain.Header) *nats.Msg {
			m := nats.NewMsg(s)
			m.Header.Set(jetstream.HeaderChannel, fmt.Sprintf("%016x", id))
			m.Header.Set(jetstream.HeaderMarker, jetstream.MarkerEnd)
			m.Header.Set(jetstream.HeaderPos, u(uint64(h.Capacity)+8))
			m.Header.Set(jetstream.HeaderGap, u(uint64(h.Capacity)+8-at))
			m.Header.Set(jetstream.HeaderEnd, jetstream.EndFull)
			return m
		}, jetstream.ErrBadMessage},
		{"a batch that repeats the last record's position", func(s string, id, at uint64, _ domain.Header) *nats.Msg {
			return hostileBatch(s, id, at-domain.RecordSize(3), at, v1(rec([]byte("abc"))))
		}, jetstream.ErrMismatch},
		{"a batch that skips a heartbeat", func(s string, id, at uint64, _ domain.Header) *nats.Msg {
			return hostileBatch(s, id, at+8, at+8+domain.RecordSize(3), v1(rec([]byte("abc"))))
		}, jetstream.ErrMismatch},
	} {
		id := uint64(0x4800 + i)
		src, dst := shmDir(t), shmDir(t)
		w, path := newChannel(t, src, id, records)
		if err := writeRecords(w, 0, records, false); err != nil {
			t.Fatal(err)
		}
		// The channel replicated, its writer still on.
		r, _ := jetstream.NewReplicator(jetstream.ReplicateConfig{Volume: mmap.NewVolume(src), ChannelID: id, URL: url})
		rctx, cancel := context.WithCancel(ctx)
		replicated := make(chan error, 1)
		go func() { replicated <- r.Run(rctx) }()
		for r.Stats().Acked < records {
			time.Sleep(time.Millisecond)
		}
		cancel()
		<-replicated
		h, want, at, _ := readChannel(t, path)
		stream, subject := jetstream.StreamName(id), jetstream.Subject(id)
		st, err := js.Stream(ctx, stream)
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m := c.msg(subject, id, at, h)
		m.Header.Set(natsjs.ExpectedLastSeqHeader, u(info.State.LastSeq))
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatalf("%s: publishing: %v", c.what, err)
		}
		w.Release()

		for run := range 2 { // made, then resumed
			mctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			err := jetstream.Mirror(mctx, jetstream.MirrorConfig{Volume: mmap.NewVolume(dst), Stream: stream, URL: url,
				MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
			cancel()
			if !errors.Is(err, c.want) {
				t.Errorf("%s, mirror run %d: %v, want %v", c.what, run, err, c.want)
				break
			}
			_, got, pos, _ := readChannel(t, mmap.ChannelPath(dst, id))
			if len(got) != len(want) || pos != at {
				t.Errorf("%s, mirror run %d: %d records up to %d, the stream had %d up to %d before the crafted message", c.what, run, len(got), pos, len(want), at)
				break
			}
			for k := range want {
				if got[k].pos != want[k].pos || !bytes.Equal(got[k].data, want[k].data) {
					t.Fatalf("%s, mirror run %d: record %d at %d, the source's at %d", c.what, run, k, got[k].pos, want[k].pos)
				}
			}
			if run == 0 {
				t.Logf("%s: %v", c.what, err)
			}
		}
	}
}

// TestBatchElementsBounded: a batch holds at most 8,192 elements, as the
// package documentation says, also when a long run of heartbeats comes
// right before a record. (Before, the heartbeats before a record went
// into the batch all at once: 20,000 heartbeats and the record after
// them made one batch of 20,001 elements.)
func TestBatchElementsBounded(t *testing.T) {
	_, url := startServer(t)
	root := shmDir(t)
	ctx := testCtx(t)
	const id = 0x4900
	w, path := newChannel(t, root, id, 3000) // room for 20,000 heartbeats
	for range 20_000 {
		if _, err := w.Heartbeat(); err != nil {
			t.Fatal(err)
		}
	}
	if err := writeRecords(w, 0, 10, false); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if err := jetstream.Replicate(ctx, jetstream.ReplicateConfig{Volume: mmap.NewVolume(root), ChannelID: id, URL: url}); err != nil {
		t.Fatal(err)
	}
	checkStream(t, url, jetstream.StreamName(id), jetstream.Subject(id), path)
	per := map[uint64]int{}
	for _, e := range readStream(t, url, jetstream.StreamName(id), jetstream.Subject(id)) {
		if e.batch {
			per[e.seq]++
		}
	}
	for seq, n := range per {
		if n > 8192 {
			t.Errorf("the batch at sequence %d has %d elements", seq, n)
		}
	}
}
