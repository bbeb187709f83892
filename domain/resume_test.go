package domain_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/ports"
)

// resumeBackends runs f on a storage the domain addresses directly and on
// one it reaches only through the Storage methods.
func resumeBackends(t *testing.T, f func(t *testing.T, wrap func(*memory.Storage) ports.Storage)) {
	type plainStorage struct{ ports.Storage }
	t.Run("addressable", func(t *testing.T) { f(t, func(s *memory.Storage) ports.Storage { return s }) })
	t.Run("interface", func(t *testing.T) { f(t, func(s *memory.Storage) ports.Storage { return plainStorage{s} }) })
}

func resumeHeader(t *testing.T) domain.Header {
	t.Helper()
	h, err := domain.NewHeader(domain.Hints{WriterID: 3, ChannelID: 4, Capacity: 16384, MaxMsgLen: 100, Timeout: 1000, TickUnit: domain.Millis,
		Clock: func() time.Time { return time.Unix(1_700_000_000, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// op is one step of a writer: a record of n bytes, or a heartbeat (n == 0).
type op struct {
	n    int
	seed byte
}

func randomOps(rng *rand.Rand, count int) []op {
	ops := make([]op, count)
	for i := range ops {
		if rng.IntN(4) == 0 {
			continue // heartbeat
		}
		ops[i] = op{n: 1 + rng.IntN(100), seed: byte(rng.IntN(256))}
	}
	return ops
}

func apply(t *testing.T, w *domain.Writer[[]byte], ops []op) {
	t.Helper()
	for _, o := range ops {
		var err error
		if o.n == 0 {
			_, err = w.Heartbeat()
		} else {
			b := make([]byte, o.n)
			for i := range b {
				b[i] = o.seed + byte(i)
			}
			_, err = w.Write(b)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestResumeMatchesOneWriter: a writer that releases the channel part way
// and a resumed writer that carries on leave the very bytes one writer
// doing the same steps leaves.
func TestResumeMatchesOneWriter(t *testing.T) {
	resumeBackends(t, func(t *testing.T, wrap func(*memory.Storage) ports.Storage) {
		h := resumeHeader(t)
		rng := rand.New(rand.NewPCG(1, 2))
		for round := range 20 {
			ops := randomOps(rng, 1+rng.IntN(150))
			cut := rng.IntN(len(ops) + 1)

			one := memory.New(h.FileSize())
			w, err := domain.NewWriter(wrap(one), h, codecs.Raw{})
			if err != nil {
				t.Fatal(err)
			}
			apply(t, w, ops)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}

			two := memory.New(h.FileSize())
			w, err = domain.NewWriter(wrap(two), h, codecs.Raw{})
			if err != nil {
				t.Fatal(err)
			}
			apply(t, w, ops[:cut])
			at := w.WriteOffset()
			if err := w.Release(); err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write([]byte("x")); !errors.Is(err, domain.ErrWriterClosed) {
				t.Fatalf("write after Release: %v", err)
			}
			if err := w.Close(); err != nil {
				t.Fatalf("Close after Release: %v", err)
			}
			w, err = domain.Resume(wrap(two.Share()), codecs.Raw{})
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			if w.WriteOffset() != at || w.Header() != h {
				t.Fatalf("round %d: resumed at %d (want %d), header %+v", round, w.WriteOffset(), at, w.Header())
			}
			apply(t, w, ops[cut:])
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(one.Image(), two.Image()) {
				t.Fatalf("round %d: the resumed channel differs from one written at once", round)
			}
		}
	})
}

// TestResumeAfterTornWrite: a writer that died while encoding a record
// left payload bytes past the watermark; the resumed writer overwrites
// them and readers never see them.
func TestResumeAfterTornWrite(t *testing.T) {
	resumeBackends(t, func(t *testing.T, wrap func(*memory.Storage) ports.Storage) {
		h := resumeHeader(t)
		mem := memory.New(h.FileSize())
		w, err := domain.NewWriter(wrap(mem), h, codecs.Raw{})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("first"))
		end := int64(w.WriteOffset())
		// The torn record: payload bytes, no length word.
		if _, err := mem.WriteAt(bytes.Repeat([]byte{0xEE}, 90), domain.DataOffset+end+8); err != nil {
			t.Fatal(err)
		}
		w2, err := domain.Resume(wrap(mem.Share()), codecs.Raw{})
		if err != nil {
			t.Fatal(err)
		}
		if int64(w2.WriteOffset()) != end {
			t.Fatalf("resumed at %d, want %d", w2.WriteOffset(), end)
		}
		w2.Write([]byte("second"))
		w2.Close()
		r, err := domain.NewReader(wrap(mem.Share()))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		_, err = r.Read(func(rec domain.Record) error { p := rec.Payload; got = append(got, string(p)); return nil }, 0)
		if !errors.Is(err, domain.ErrClosed) || len(got) != 2 || got[0] != "first" || got[1] != "second" {
			t.Fatalf("read %q, %v", got, err)
		}
	})
}

func TestResumeRefuses(t *testing.T) {
	resumeBackends(t, func(t *testing.T, wrap func(*memory.Storage) ports.Storage) {
		h := resumeHeader(t)
		newChannel := func() (*memory.Storage, *domain.Writer[[]byte]) {
			mem := memory.New(h.FileSize())
			w, err := domain.NewWriter(wrap(mem), h, codecs.Raw{})
			if err != nil {
				t.Fatal(err)
			}
			return mem, w
		}

		mem, w := newChannel()
		w.Write([]byte("a"))
		w.Close()
		var re *domain.ReadError
		if _, err := domain.Resume(wrap(mem.Share()), codecs.Raw{}); !errors.Is(err, domain.ErrClosed) || !errors.As(err, &re) || re.Position != 24 {
			t.Fatalf("closed channel: %v", err)
		}

		mem, w = newChannel()
		for {
			if _, err := w.Write(bytes.Repeat([]byte{1}, 100)); err != nil {
				if _, err := w.Heartbeat(); errors.Is(err, domain.ErrChannelFull) {
					break
				}
			}
		}
		if _, err := domain.Resume(wrap(mem.Share()), codecs.Raw{}); !errors.Is(err, domain.ErrChannelFull) {
			t.Fatalf("full channel: %v", err)
		}

		mem, w = newChannel()
		w.Write([]byte("a"))
		if err := mem.StoreUint64(domain.DataOffset+24, uint64(h.MaxMsgLen)+8); err != nil {
			t.Fatal(err)
		}
		// A corrupt word after the first record is a torn tail: Resume
		// keeps the record, overwrites the rest and goes on.
		rw, err := domain.Resume(wrap(mem.Share()), codecs.Raw{})
		if err != nil {
			t.Fatalf("torn channel: %v", err)
		}
		if rw.WriteOffset() != 24 || rw.Dropped() != 16 || rw.Records() != 1 {
			t.Fatalf("torn channel resumed at %d with %d records, %d bytes dropped; want 24, 1, 16", rw.WriteOffset(), rw.Records(), rw.Dropped())
		}
		rw.Write([]byte("b"))
		rw.Close()
		r := mustReader(t, mem.Share())
		if got, err := readAll(t, r); len(got) != 2 || got[0].data != "a" || got[1].data != "b" || !errors.Is(err, domain.ErrClosed) {
			t.Fatalf("after the repair: %v, %v", got, err)
		}

		if _, err := domain.Resume(wrap(memory.New(h.FileSize())), codecs.Raw{}); !errors.Is(err, domain.ErrInvalidHeader) {
			t.Fatalf("zero storage: %v", err)
		}
		if _, err := domain.Resume(wrap(memory.New(10)), codecs.Raw{}); !errors.Is(err, domain.ErrInvalidHeader) {
			t.Fatalf("tiny storage: %v", err)
		}
		mem, _ = newChannel()
		short := memory.FromImage(mem.Image()[:h.FileSize()-domain.FooterLen])
		if _, err := domain.Resume(wrap(short), codecs.Raw{}); !errors.Is(err, domain.ErrStorageTooSmall) {
			t.Fatalf("crate-sized storage: %v", err)
		}
	})
}

// TestResumeZeroedTail: a lost page at the tail (zeros from inside a record
// to past the writer's end: what an unordered writeback leaves) used to
// make Resume walk the zeros as heartbeats up to the capacity and refuse
// the channel as full. It is a torn tail: Resume keeps the records before
// the zeros and resumes right after the last of them, heartbeats after it
// dropped with the damage, with and without the envelope. A hole that ends
// on a record boundary (the next record's sequence number is wrong) is
// repaired the same way.
func TestResumeZeroedTail(t *testing.T) {
	for _, env := range []domain.Envelope{0, domain.EnvelopeAll} {
		for _, hole := range []string{"to the end", "to a record"} {
			if env == 0 && hole == "to a record" {
				continue // a plain channel cannot see such a hole
			}
			t.Run(env.String()+"/"+hole, func(t *testing.T) {
				resumeBackends(t, func(t *testing.T, wrap func(*memory.Storage) ports.Storage) {
					h := resumeHeader(t)
					h.Envelope = env
					mem := memory.New(h.FileSize())
					w, err := domain.NewWriter(wrap(mem), h, codecs.Raw{})
					if err != nil {
						t.Fatal(err)
					}
					var pos []uint64
					for i := range 10 {
						pos = append(pos, uint64(w.WriteOffset()))
						w.Write(payload(20+i, byte(i)))
						if i == 5 {
							w.Heartbeat()
						}
					}
					end := uint64(w.WriteOffset())
					w.Release()
					// Zeros from inside record 6 (after record 5 and its
					// heartbeat); without the envelope from its length word,
					// which is all such a channel can see.
					from, to := domain.DataOffset+pos[6]+12, domain.DataOffset+end+8
					if env == 0 {
						from = domain.DataOffset + pos[6]
					}
					if hole == "to a record" {
						to = domain.DataOffset + pos[8]
					}
					clear(mem.Bytes()[from:to])
					rw, err := domain.Resume(wrap(mem.Share()), codecs.Raw{})
					if err != nil {
						t.Fatalf("Resume: %v", err)
					}
					if rw.Records() != 6 || uint64(rw.WriteOffset()) != pos[5]+domain.RecordSize(env.Len()+25) || rw.Dropped() == 0 {
						t.Fatalf("resumed at %d with %d records, %d bytes dropped; want 6 records, at %d", rw.WriteOffset(), rw.Records(), rw.Dropped(), pos[5]+domain.RecordSize(env.Len()+25))
					}
					rw.Write([]byte("after"))
					rw.Close()
					got, err := readAll(t, mustReader(t, mem.Share()))
					if len(got) != 7 || got[5].data != string(payload(25, 5)) || got[6].data != "after" || !errors.Is(err, domain.ErrClosed) {
						t.Fatalf("after the repair: %d records, then %v", len(got), err)
					}
				})
			})
		}
	}
}
