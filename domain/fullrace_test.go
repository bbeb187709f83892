package domain_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
)

// TestFollowToAFullEnvelopedChannel: followers of an enveloped channel
// that its writer fills exactly and then closes, while they follow, end
// full after every record, in order, with no data race on the close
// trailer (go test -race): they read it only after the close mark.
func TestFollowToAFullEnvelopedChannel(t *testing.T) {
	for round := range 20 {
		h, err := domain.NewHeader(domain.Hints{ChannelID: 1, Capacity: 1 << 14, MaxMsgLen: 64, Timeout: 60, TickUnit: domain.Secs, Envelope: domain.EnvelopeAll})
		if err != nil {
			t.Fatal(err)
		}
		st := memory.New(h.FileSize())
		w, err := domain.NewWriter(st.Share(), h, codecs.Raw{})
		if err != nil {
			t.Fatal(err)
		}
		// Records of 40 bytes and the envelope take 72 bytes: the data
		// region after the first heartbeat (16376 bytes) holds 227 of
		// them, then heartbeats up to position 16376, where nothing fits:
		// the writer's close mark goes there, in the last word.
		done := make(chan int, 2)
		for range 2 {
			r, err := domain.NewReader(st.Share(), domain.WithWait(domain.Wait{Spins: 16, Yields: 16, MinSleep: time.Microsecond, MaxSleep: 100 * time.Microsecond}))
			if err != nil {
				t.Fatal(err)
			}
			go func() {
				n := 0
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				err := r.Follow(ctx, func(rec domain.Record) error {
					if r.Seq() != uint64(n) {
						t.Errorf("round %d: record %d has sequence number %d", round, n, r.Seq())
					}
					n++
					return nil
				})
				if !errors.Is(err, domain.ErrChannelFull) {
					t.Errorf("round %d: the follow ended %v after %d records, want full", round, err, n)
				}
				done <- n
			}()
		}
		written := 0
		for {
			if _, err := w.Write(make([]byte, 40)); err != nil {
				break
			}
			written++
		}
		for {
			if _, err := w.Heartbeat(); err != nil {
				break
			}
		}
		w.Close()
		for range 2 {
			if n := <-done; n != written {
				t.Fatalf("round %d: a follower read %d of %d records", round, n, written)
			}
		}
	}
}
