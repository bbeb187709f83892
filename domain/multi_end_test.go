package domain_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/internal/channeltest"
)

// TestMultiWriterLastClaimAtCapacity: a multi-writer channel's last claim
// that ends exactly at the capacity and is committed short, or aborted,
// leaves the watermark in the word at capacity-8, as a claim that does not
// fit does: a reader of an enveloped channel ends "full" after every
// committed record, not "lost tail". (The rest of such a claim used to
// become zeros to the end.)
func TestMultiWriterLastClaimAtCapacity(t *testing.T) {
	for _, env := range []domain.Envelope{0, domain.EnvelopeCRC, domain.EnvelopeAll} {
		for _, end := range []string{"commit-short", "abort", "commit-to-capacity-8", "commit-whole"} {
			t.Run(fmt.Sprintf("%v/%s", env, end), func(t *testing.T) {
				vol := memory.NewVolume()
				h := multiHeader(t, 7, 1<<14, env)
				w, err := domain.Create(vol, h, codecs.Raw{})
				if err != nil {
					t.Fatal(err)
				}
				written := 0
				for uint64(w.Available()) > uint64(h.MaxPayload())+env.Len()+domain.RecordHeaderLen {
					if _, err := w.Write(channeltest.Tagged(0, uint64(written), 48)); err != nil {
						t.Fatal(err)
					}
					written++
				}
				// the claim whose record fills the region to the capacity
				n := int(w.Available()) - domain.RecordHeaderLen - int(env.Len())
				p, err := w.Claim(n)
				if err != nil {
					t.Fatalf("Claim(%d) with %d bytes left: %v", n, w.Available(), err)
				}
				switch end {
				case "commit-short":
					copy(p, channeltest.Tagged(0, uint64(written), 16))
					if _, err := w.Commit(16); err != nil {
						t.Fatal(err)
					}
					written++
				case "commit-to-capacity-8": // the record ends one word before the capacity
					copy(p, channeltest.Tagged(0, uint64(written), n-8))
					if _, err := w.Commit(n - 8); err != nil {
						t.Fatal(err)
					}
					written++
				case "commit-whole":
					copy(p, channeltest.Tagged(0, uint64(written), n))
					if _, err := w.Commit(n); err != nil {
						t.Fatal(err)
					}
					written++
				case "abort":
					for i := range p {
						p[i] = 0xAB // bytes a void record must not keep
					}
					if err := w.Abort(); err != nil {
						t.Fatal(err)
					}
				}
				r, err := domain.Open(vol, 7)
				if err != nil {
					t.Fatal(err)
				}
				var c channeltest.Order
				_, err = r.Read(func(rec domain.Record) error { return c.Add(rec.Payload) }, 0)
				if !errors.Is(err, domain.ErrChannelFull) || c.Total != written {
					t.Fatalf("read %d records of %d, ending %v; want ErrChannelFull", c.Total, written, err)
				}
				w.Close()
			})
		}
	}
}
