//go:build linux

package mmap_test

import (
	"testing"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/ports"
)

// BenchmarkOpen is what a reader's Open and Close of a ready 1 MiB channel
// cost: the protocol's checks (lock file, links, owners, holes) and the
// mapping.
func BenchmarkOpen(b *testing.B) {
	vol := mmap.NewVolume(shmDir(b))
	st, err := vol.Create(1, 1<<20, func(ports.Storage) error { return nil })
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	b.ReportAllocs()
	for b.Loop() {
		r, err := vol.Open(1)
		if err != nil {
			b.Fatal(err)
		}
		r.Close()
	}
}
