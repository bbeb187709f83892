package inspect_test

import (
	"os"
	"testing"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/inspect"
)

// BenchmarkInspect10000 takes a snapshot of a root of 10,000 closed
// channels of 16 KiB with the envelope, 100 records each, in /dev/shm:
// what `kekbit stat --once` costs on such a root.
func BenchmarkInspect10000(b *testing.B) {
	root, err := os.MkdirTemp("/dev/shm", "kekbit-inspect-")
	if err != nil {
		b.Skip("no /dev/shm:", err) // a benchmark, not a test: nothing to assert
	}
	defer os.RemoveAll(root)
	vol := mmap.NewVolume(root)
	data := make([]byte, 40)
	for id := uint64(1); id <= 10_000; id++ {
		h, err := domain.NewHeader(domain.Hints{ChannelID: id, Capacity: 1 << 14, MaxMsgLen: 120, Timeout: 60, TickUnit: domain.Nanos, Envelope: domain.EnvelopeAll})
		if err != nil {
			b.Fatal(err)
		}
		w, err := domain.Create(vol, h, codecs.Raw{})
		if err != nil {
			b.Fatal(err)
		}
		for range 100 {
			w.Write(data)
		}
		w.Close()
	}
	b.ResetTimer()
	for range b.N {
		s, err := inspect.Inspect(root)
		if err != nil || len(s.Channels) != 10_000 {
			b.Fatalf("%d channels, %v", len(s.Channels), err)
		}
	}
}
