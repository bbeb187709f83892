package jetstream_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/replicate/jetstream"
)

// TestOldFormatStreamCarriedOn: a stream of the format before batches
// (one message per record, heartbeats as gaps of records and as idle
// markers), as earlier versions left it, is carried on by Replicate with
// batches; a mirror made from the old part resumes into the new one, and
// a mirror made afresh reads both: both end identical to the source.
func TestOldFormatStreamCarriedOn(t *testing.T) {
	_, url := startServer(t)
	src, dst, dst2 := shmDir(t), shmDir(t), shmDir(t)
	ctx := testCtx(t)
	const id = 0x15a0
	const total, old = 400, 150
	w, path := newChannel(t, src, id, total)
	if err := writeRecords(w, 0, total, false); err != nil {
		t.Fatal(err)
	}
	w.Close()
	h, recs, _, _ := readChannel(t, path)

	// The old part, published as earlier versions did.
	js := streamOf(t, url)
	subject, ch := jetstream.Subject(id), "00000000000015a0"
	if _, err := js.CreateStream(ctx, natsjs.StreamConfig{Name: jetstream.StreamName(id), Subjects: []string{subject}, Storage: natsjs.FileStorage}); err != nil {
		t.Fatal(err)
	}
	var seq uint64
	pub := func(hdr map[string]string, data []byte) {
		t.Helper()
		m := nats.NewMsg(subject)
		m.Data = data
		m.Header.Set(jetstream.HeaderChannel, ch)
		for k, v := range hdr {
			m.Header.Set(k, v)
		}
		m.Header.Set(natsjs.ExpectedLastSeqHeader, strconv.FormatUint(seq, 10))
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
		seq++
	}
	hb, _ := h.MarshalBinary()
	pub(map[string]string{jetstream.HeaderMarker: jetstream.MarkerHeader, natsjs.MsgIDHeader: ch + ":header"}, hb)
	var prevEnd uint64
	for i, r := range recs[:old] {
		u := strconv.FormatUint
		if gap := r.pos - prevEnd; gap > 0 && i%2 == 0 {
			// Every other run of heartbeats as idle markers, one each.
			for p := prevEnd + 8; p <= r.pos; p += 8 {
				pub(map[string]string{jetstream.HeaderMarker: jetstream.MarkerIdle, jetstream.HeaderPos: u(p, 10),
					jetstream.HeaderGap: "8", natsjs.MsgIDHeader: ch + ":idle:" + u(p, 10)}, nil)
			}
			prevEnd = r.pos
		}
		hdr := map[string]string{jetstream.HeaderPos: u(r.pos, 10), natsjs.MsgIDHeader: jetstream.MsgID(id, r.pos)}
		if gap := r.pos - prevEnd; gap > 0 {
			hdr[jetstream.HeaderGap] = u(gap, 10)
		}
		pub(hdr, r.data)
		prevEnd = r.pos + domain.RecordSize(uint64(len(r.data)))
	}

	// A mirror of the old part, stopped there.
	mctx, cancel := context.WithCancel(ctx)
	mir, _ := jetstream.NewMirrorer(jetstream.MirrorConfig{Volume: mmap.NewVolume(dst), Stream: jetstream.StreamName(id), URL: url})
	mirrored := make(chan error, 1)
	go func() { mirrored <- mir.Run(mctx) }()
	for mir.Stats().Records < old {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-mirrored

	if err := jetstream.Replicate(ctx, jetstream.ReplicateConfig{Volume: mmap.NewVolume(src), ChannelID: id, URL: url, BatchBytes: 1024}); err != nil {
		t.Fatal(err)
	}
	batches := 0
	for _, e := range readStream(t, url, jetstream.StreamName(id), subject) {
		if e.batch {
			batches++
		}
	}
	if batches < total-old {
		t.Fatalf("%d elements in batches, %d records were left to replicate", batches, total-old)
	}
	checkStream(t, url, jetstream.StreamName(id), subject, path)
	for _, d := range []string{dst, dst2} {
		if err := jetstream.Mirror(ctx, jetstream.MirrorConfig{Volume: mmap.NewVolume(d), Stream: jetstream.StreamName(id), URL: url}); err != nil {
			t.Fatal(err)
		}
		sameChannels(t, path, mmap.ChannelPath(d, id))
	}
}

// TestEnvelopeChannel: a channel whose records carry an envelope (CRC,
// sequence number, time) is replicated and mirrored with the same
// records at the same positions, with the same sequence numbers and times
// (the mirror's writer seals each record again, with the time the batch
// carries), also when the mirror is stopped and resumed halfway: the
// files are identical.
func TestEnvelopeChannel(t *testing.T) {
	_, url := startServer(t)
	src, dst := shmDir(t), shmDir(t)
	ctx := testCtx(t)
	const id = 0x15a1
	h, err := domain.NewHeader(domain.Hints{WriterID: 3, ChannelID: id, Capacity: 1 << 20, MaxMsgLen: 100, Timeout: 60_000,
		TickUnit: domain.Millis, Envelope: domain.EnvelopeAll})
	if err != nil {
		t.Fatal(err)
	}
	w, err := domain.Create(mmap.NewVolume(src), h, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	if err := writeRecords(w, 0, 3000, false); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if err := jetstream.Replicate(ctx, jetstream.ReplicateConfig{Volume: mmap.NewVolume(src), ChannelID: id, URL: url, BatchBytes: 4096}); err != nil {
		t.Fatal(err)
	}
	mctx, cancel := context.WithCancel(ctx)
	mir, _ := jetstream.NewMirrorer(jetstream.MirrorConfig{Volume: mmap.NewVolume(dst), Stream: jetstream.StreamName(id), URL: url})
	mirrored := make(chan error, 1)
	go func() { mirrored <- mir.Run(mctx) }()
	for mir.Stats().Records < 1000 && !mir.Stats().Done {
		time.Sleep(100 * time.Microsecond)
	}
	cancel()
	<-mirrored
	if err := jetstream.Mirror(ctx, jetstream.MirrorConfig{Volume: mmap.NewVolume(dst), Stream: jetstream.StreamName(id), URL: url}); err != nil {
		t.Fatal(err)
	}
	read := func(root string) (out []string) {
		r, err := domain.Open(mmap.NewVolume(root), id)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		r.Read(func(rec domain.Record) error {
			out = append(out, fmt.Sprintf("%d %d %d %x", rec.Position, r.Seq(), r.Time(), rec.Payload))
			return nil
		}, 0)
		return out
	}
	a, b := read(src), read(dst)
	if len(a) != 3000 || fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("source %d records, mirror %d, or they differ", len(a), len(b))
	}
	// The times go with the records: the files are the same, byte for
	// byte, close trailer included.
	sameChannels(t, mmap.ChannelPath(src, id), mmap.ChannelPath(dst, id))
}
