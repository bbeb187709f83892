package proptest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/leanovate/gopter"
	"github.com/leanovate/gopter/gen"
	"github.com/leanovate/gopter/prop"

	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/ports"
)

// The multi-writer property: gopter picks an interleaving of the steps of
// several writers of one multi-writer channel (writes, claims left open
// across other writers' steps and then committed in part or aborted,
// heartbeats, writers killed with a claim open and replaced by writers
// that join, reads) and a capacity small enough to fill. On every backend
// whose writers share memory (memory, mmap) each step's error must be the
// model's, every read must hand out the committed records in the order of
// their claims, and at the end, after a Close, a reader must read every
// committed record exactly once and end "closed" (or "full"), and the
// backends' data regions must be byte-identical.

// mop is one step of one writer.
type mop struct {
	W    int // the writer, 0..2
	Kind int // see multiStep
	N    int // a payload length
}

func (o mop) String() string { return fmt.Sprintf("w%d:%d(%d)", o.W, o.Kind, o.N) }

// mclaim is a claim as the model sees it.
type mclaim struct {
	payload []byte // what is committed; nil: void (aborted, or its writer killed)
	open    bool
	dead    bool // its writer was killed with it open: void once someone repairs it
}

// mmodel is the model: the claims in the order the tail gave them, the
// tail's position, and each writer's open claim.
type mmodel struct {
	capacity, env uint64
	pos           uint64
	full, closed  bool
	claims        []mclaim
	open          [3]int // index of the writer's open claim, -1 for none
	n             [3]int // its claimed payload bytes
}

// reserve is the model's claim of size bytes: its index, or an error.
func (m *mmodel) reserve(size uint64, record bool) (int, error) {
	switch {
	case m.closed:
		return -1, domain.ErrChannelClosed
	case m.full || m.pos+8 >= m.capacity:
		return -1, domain.ErrChannelFull
	case m.pos+size > m.capacity:
		m.full, m.pos = true, m.capacity
		return -1, domain.ErrChannelFull
	}
	m.pos += size
	if !record {
		return -1, nil
	}
	m.claims = append(m.claims, mclaim{open: true})
	return len(m.claims) - 1, nil
}

// committed returns the payloads a reader must have handed out by now
// at least (those before the first claim still open, or whose writer was
// killed and nobody repaired yet) and may have (all committed ones).
func (m *mmodel) committed() (prefix, all [][]byte) {
	done := true
	for _, c := range m.claims {
		if c.open || c.dead {
			done = false
		}
		if c.payload != nil && !c.open {
			all = append(all, c.payload)
			if done {
				prefix = append(prefix, c.payload)
			}
		}
	}
	return prefix, all
}

// mwriter is one writer slot of the test on one backend.
type mwriter struct {
	st ports.Storage
	w  *domain.Writer[[]byte]
	p  []byte // the open claim's bytes
}

// mbackend is one backend running the steps.
type mbackend struct {
	name string
	vol  ports.Volume
	ws   [3]*mwriter
	r    *domain.Reader
	got  [][]byte
	img  func() ([]byte, error)
}

func payloadOf(i, n int) []byte {
	b := make([]byte, n)
	for k := range b {
		b[k] = byte(i*31 + k)
	}
	return b
}

// join gives writer i a new writer of the channel on b.
func (b *mbackend) join(i int) error {
	st, err := b.vol.(ports.Joiner).OpenToJoin(channelID)
	if err != nil {
		return err
	}
	w, err := domain.JoinStorage(st, codecs.Raw{}, domain.WithWriteClock(func() time.Time { return fixedNow }))
	if err != nil {
		st.Close()
		return err
	}
	b.ws[i] = &mwriter{st: st, w: w}
	return nil
}

// multiRun runs ops on every backend and the model, and returns the first
// disagreement.
func multiRun(ops []mop, capacity uint32, env domain.Envelope) error {
	h, err := domain.NewHeader(domain.Hints{ChannelID: channelID, Capacity: capacity, MaxMsgLen: 120, Timeout: 3_600_000,
		TickUnit: domain.Millis, Envelope: env, MultiWriter: true, Clock: func() time.Time { return fixedNow }})
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "kekbit-proptest-multi-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var bs []*mbackend
	for _, c := range []Backend{memoryBackend(), mmapBackend()} {
		vol, image := c.New(filepath.Join(dir, c.Name))
		b := &mbackend{name: c.Name, vol: vol, img: func() ([]byte, error) { return image(channelID) }}
		w, err := domain.Create(vol, h, codecs.Raw{}, domain.WithWriteClock(func() time.Time { return fixedNow }))
		if err != nil {
			return err
		}
		b.ws[0] = &mwriter{w: w}
		for i := 1; i < 3; i++ {
			if err := b.join(i); err != nil {
				return err
			}
		}
		if b.r, err = domain.Open(vol, channelID); err != nil {
			return err
		}
		bs = append(bs, b)
		defer func() {
			for _, w := range b.ws {
				if w != nil {
					w.w.Release()
				}
			}
			b.r.Close()
		}()
	}
	m := &mmodel{capacity: uint64(h.Capacity), env: env.Len(), open: [3]int{-1, -1, -1}}
	for step, o := range ops {
		want, err := m.step(o, step)
		if err != nil {
			return err
		}
		for _, b := range bs {
			got := b.step(o, step)
			if errName(got) != errName(want) {
				return fmt.Errorf("%s: step %d %v: %v, model says %v", b.name, step, o, got, want)
			}
			if o.Kind == 5 {
				prefix, all := m.committed()
				if len(b.got) < len(prefix) || len(b.got) > len(all) {
					return fmt.Errorf("%s: step %d: read %d records, want %d..%d", b.name, step, len(b.got), len(prefix), len(all))
				}
				for k := range b.got {
					if !bytes.Equal(b.got[k], all[k]) {
						return fmt.Errorf("%s: step %d: record %d is %x, want %x", b.name, step, k, b.got[k], all[k])
					}
				}
			}
		}
	}
	// The end: the writers leave (aborting their open claims) and writer
	// 0 closes the channel; a new reader with a short bound reads every
	// committed record.
	for i := range m.open {
		if m.open[i] >= 0 {
			m.claims[m.open[i]] = mclaim{}
			m.open[i] = -1
		}
	}
	_, all := m.committed()
	var data []byte
	for _, b := range bs {
		for i := 1; i < 3; i++ {
			if b.ws[i] != nil {
				if err := b.ws[i].w.Release(); err != nil {
					return fmt.Errorf("%s: release: %w", b.name, err)
				}
				b.ws[i] = nil
			}
		}
		if b.ws[0] == nil {
			if err := b.join(0); err != nil && !errors.Is(err, domain.ErrChannelClosed) {
				return fmt.Errorf("%s: join to close: %w", b.name, err)
			}
		}
		if b.ws[0] != nil {
			if err := b.ws[0].w.Close(); err != nil {
				return fmt.Errorf("%s: close: %w", b.name, err)
			}
			b.ws[0] = nil
		}
		r, err := domain.Open(b.vol, channelID, domain.WithClaimBound(time.Microsecond))
		if err != nil {
			return err
		}
		var got [][]byte
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = r.Follow(ctx, func(rec domain.Record) error { got = append(got, bytes.Clone(rec.Payload)); return nil })
		cancel()
		r.Close()
		if !errors.Is(err, domain.ErrClosed) && !errors.Is(err, domain.ErrChannelFull) {
			return fmt.Errorf("%s: the last read ends with %v", b.name, err)
		}
		if len(got) != len(all) {
			return fmt.Errorf("%s: the last read has %d records, want %d", b.name, len(got), len(all))
		}
		for k := range got {
			if !bytes.Equal(got[k], all[k]) {
				return fmt.Errorf("%s: the last read's record %d is %x, want %x", b.name, k, got[k], all[k])
			}
		}
		img, err := b.img()
		if err != nil {
			return err
		}
		d := img[domain.DataOffset:]
		if data == nil {
			data = d
		} else if !bytes.Equal(data, d) {
			return fmt.Errorf("%s: data region differs from %s's", b.name, bs[0].name)
		}
	}
	return nil
}

// step is the model's step o: the error the writers must give.
func (m *mmodel) step(o mop, step int) (error, error) {
	i := o.W
	size := func(n int) uint64 { return domain.RecordSize(m.env + uint64(n)) }
	switch o.Kind {
	case 0, 1: // write; claim (commit when one is open)
		if m.open[i] >= 0 {
			if o.Kind == 0 {
				return domain.ErrClaimOpen, nil
			}
			k := min(o.N, m.n[i])
			m.claims[m.open[i]] = mclaim{payload: payloadOf(step, k)}
			m.open[i] = -1
			return nil, nil
		}
		idx, err := m.reserve(size(o.N), true)
		if err != nil {
			return err, nil
		}
		if o.Kind == 0 {
			m.claims[idx] = mclaim{payload: payloadOf(step, o.N)}
		} else {
			m.open[i], m.n[i] = idx, o.N
		}
	case 2: // abort
		if m.open[i] < 0 {
			return domain.ErrNoClaim, nil
		}
		m.claims[m.open[i]] = mclaim{}
		m.open[i] = -1
	case 3: // heartbeat
		if m.open[i] >= 0 {
			return domain.ErrClaimOpen, nil
		}
		_, err := m.reserve(8, false)
		return err, nil
	case 4: // kill the writer if it has a claim open (a new one joins at its next step)
		if m.open[i] >= 0 {
			m.claims[m.open[i]] = mclaim{dead: true}
			m.open[i] = -1
		}
	}
	return nil, nil
}

// step runs o on the backend.
func (b *mbackend) step(o mop, step int) error {
	i := o.W
	if o.Kind != 5 && b.ws[i] == nil {
		if err := b.join(i); err != nil {
			return err
		}
	}
	var err error
	switch o.Kind {
	case 0:
		_, err = b.ws[i].w.Write(payloadOf(step, o.N))
	case 1:
		mw := b.ws[i]
		if mw.p != nil {
			k := min(o.N, len(mw.p))
			copy(mw.p, payloadOf(step, k))
			_, err = mw.w.Commit(k)
			mw.p = nil
		} else if mw.p, err = mw.w.Claim(o.N); err == nil {
			copy(mw.p, bytes.Repeat([]byte{0xEE}, o.N)) // what a commit in part must not leave
		}
	case 2:
		err = b.ws[i].w.Abort()
		b.ws[i].p = nil
	case 3:
		_, err = b.ws[i].w.Heartbeat()
	case 4:
		if mw := b.ws[i]; mw.p != nil {
			if mw.st == nil { // the creator: its storage is the writer's own
				return fmt.Errorf("test: the creator cannot be killed")
			}
			mw.st.Close() // dies with its claim open
			b.ws[i] = nil
		}
	case 5:
		_, err = b.r.Read(func(rec domain.Record) error { b.got = append(b.got, bytes.Clone(rec.Payload)); return nil }, 0)
		if err == domain.ErrNothingYet {
			err = nil
		}
	}
	return err
}

func genMop() gopter.Gen {
	return gopter.CombineGens(gen.IntRange(0, 2), gen.IntRange(0, 5), gen.IntRange(1, 90)).Map(func(v []any) mop {
		o := mop{W: v[0].(int), Kind: v[1].(int), N: v[2].(int)}
		if o.Kind == 4 && o.W == 0 {
			o.Kind = 5 // writer 0 is the creator and stays alive
		}
		return o
	})
}

func TestMultiWritersAgreeWithModel(t *testing.T) {
	seed, params := parameters(t, 60, 200)
	props := gopter.NewProperties(params)
	props.Property("multi-writer channels agree with the model", prop.ForAll(
		func(ops []mop, small bool, env domain.Envelope) string {
			capacity := uint32(1 << 16)
			if small {
				capacity = 1 << 14 // fills within a case
			}
			if err := multiRun(ops, capacity, env); err != nil {
				return err.Error()
			}
			return ""
		},
		gen.SliceOf(genMop()), gen.Bool(), gen.OneConstOf(domain.Envelope(0), domain.EnvelopeAll, domain.EnvelopeSeq|domain.EnvelopeCRC)))
	if !props.Run(gopter.ConsoleReporter(false)) {
		t.Errorf("property failed; repeat with KEKBIT_PROPTEST_SEED=%d", seed)
	}
}
