package domain_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/internal/vectortest"
)

func loadVectors(t *testing.T) []vectortest.Vector {
	t.Helper()
	vs, err := vectortest.Load()
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

func TestVectorsRead(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			r, err := domain.NewReader(memory.FromImage(v.Image))
			if err != nil {
				t.Fatal(err)
			}
			vectortest.CheckHeader(t, r.Header(), v)
			if v.Truncated() {
				// DESIGN.md: the crate's file ends inside the 139th message.
				if msgs, at, _ := v.Expect(); at != 15464 || len(msgs) != 138 {
					t.Fatalf("truncated vector: %d messages then cut at %d, DESIGN.md says 138 and 15464", len(msgs), at)
				}
			}
			vectortest.CheckRead(t, r, v)
		})
	}
}

// TestVectorsReplay replays each vector's writer operations through our
// Writer and compares the result with the crate's file byte for byte.
func TestVectorsReplay(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			sh := v.Side.Header
			unit, err := domain.TickUnitFromID(sh.TickUnitID)
			if err != nil {
				t.Fatal(err)
			}
			h, err := domain.NewHeader(domain.Hints{
				WriterID: sh.WriterID, ChannelID: sh.ChannelID,
				Capacity: sh.Capacity, MaxMsgLen: sh.MaxMsgLen - 8,
				Timeout: sh.Timeout, TickUnit: unit,
				Clock: func() time.Time { return time.Unix(0, 0).Add(unit.ToDuration(sh.CreationTime)) },
			})
			if err != nil {
				t.Fatal(err)
			}
			st := memory.New(h.FileSize())
			text := v.Side.DataFormat == "PlainTextDataFormat (id 3)"
			var write func([]byte) (int, error)
			var w interface {
				Heartbeat() (int, error)
				WriteOffset() uint32
				Close() error
			}
			if text {
				tw, err := domain.NewWriter(st, h, codecs.Text{})
				if err != nil {
					t.Fatal(err)
				}
				w, write = tw, func(b []byte) (int, error) { return tw.Write(string(b)) }
			} else {
				rw, err := domain.NewWriter(st, h, codecs.Raw{})
				if err != nil {
					t.Fatal(err)
				}
				w, write = rw, rw.Write
			}

			for i, op := range v.Side.WriterOps {
				if uint64(w.WriteOffset()) != op.Pos {
					t.Fatalf("op %d: writer at %d, crate at %d", i, w.WriteOffset(), op.Pos)
				}
				var n int
				var err error
				if op.Op == "heartbeat" {
					n, err = w.Heartbeat()
				} else {
					data := vectortest.Message{Hex: op.Hex}.Bytes()
					n, err = write(data)
					if len(data) == 0 && op.Result == "ok" {
						// The crate turned the empty write into a heartbeat; we
						// refuse it, then write the heartbeat it stood for.
						if !errors.Is(err, domain.ErrEmptyPayload) {
							t.Fatalf("op %d: empty write gave %v, want ErrEmptyPayload", i, err)
						}
						n, err = w.Heartbeat()
					}
				}
				switch op.Result {
				case "ok":
					if err != nil || (op.RecordSize != 0 && n != op.RecordSize) {
						t.Fatalf("op %d (%s %d bytes): got %d, %v; crate wrote %d", i, op.Op, op.Len, n, err, op.RecordSize)
					}
				case "ChannelFull":
					if !errors.Is(err, domain.ErrChannelFull) {
						t.Fatalf("op %d: got %d, %v; want ErrChannelFull", i, n, err)
					}
				case "EncodingError(WriteZero)":
					// The crate has one error for both: above the max
					// record length, or above the space left.
					want := domain.ErrNoSpace
					if uint32(op.Len) > sh.MaxMsgLen {
						want = domain.ErrRecordTooLarge
					}
					if !errors.Is(err, want) {
						t.Fatalf("op %d: got %d, %v; want %v", i, n, err, want)
					}
				default:
					t.Fatalf("op %d: unknown result %q", i, op.Result)
				}
			}
			if v.Side.Closed {
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
			}
			img := st.Image()
			if !bytes.Equal(img[:len(v.Image)], v.Image) {
				for i := range v.Image {
					if img[i] != v.Image[i] {
						t.Fatalf("image differs from the crate's from byte %d: ours % x, crate % x", i, img[i:min(i+16, len(img))], v.Image[i:min(i+16, len(v.Image))])
					}
				}
			}
		})
	}
}
