package jetstream

import (
	"github.com/nats-io/nats.go"

	"github.com/kekbit-go/kekbit/domain"
)

// SkipLock makes a replicator run without the lock file that keeps a
// second replicator of the channel and stream on this machine out, as two
// replicators on two machines sharing the channel would: for the tests of
// the stream's own checks.
func SkipLock(c *ReplicateConfig) { c.skipLock = true }

// Element is one element of a replication message, for the tests.
type Element struct {
	Marker, End string
	Pos, Gap    uint64
	Data        []byte
}

// Elements decodes a replication message into its elements: itself, or
// the records and heartbeats of a batch.
func Elements(seq uint64, h nats.Header, data []byte) ([]Element, error) {
	e, err := parseElement(seq, h, data)
	if err != nil {
		return nil, err
	}
	var out []Element
	err = e.each(domain.Header{}, func(el *element) error {
		out = append(out, Element{Marker: el.marker, End: el.end, Pos: el.pos, Gap: el.gap, Data: el.data})
		return nil
	})
	return out, err
}

// BeforeHeader has f called right before each header marker a
// replicator publishes, until the test ends: for the tests of a header
// marker that lands between a replicator's look at the stream and its
// own.
func BeforeHeader(t interface{ Cleanup(func()) }, f func()) {
	beforeHeader = f
	t.Cleanup(func() { beforeHeader = nil })
}
