//go:build linux || darwin || freebsd

package mmap_test

import (
	"fmt"
	"log"
	"os"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
)

// A writer creates a channel in a folder; a reader, here in the same
// process but as well in another one, opens it by id and reads what was
// written.
func Example() {
	root, err := os.MkdirTemp("", "kekbit")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(root)
	vol := mmap.NewVolume(root)

	h, err := domain.NewHeader(domain.Hints{
		WriterID: 1850, ChannelID: 0xC2, Capacity: 64 << 10, MaxMsgLen: 1000,
		Timeout: 10_000, TickUnit: domain.Millis,
	})
	if err != nil {
		log.Fatal(err)
	}
	w, err := domain.Create(vol, h, codecs.Text{})
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range []string{"hello", "shared", "memory"} {
		if _, err := w.Write(s); err != nil {
			log.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}

	r, err := domain.Open(vol, 0xC2)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	_, err = r.Read(func(rec domain.Record) error {
		pos, payload := rec.Position, rec.Payload
		fmt.Printf("%d: %s\n", pos, payload)
		return nil
	}, 0)
	fmt.Println(err)
	// Output:
	// 8: hello
	// 24: shared
	// 40: memory
	// kekbit: channel closed by its writer at position 56 (after 56 bytes read)
}

// ChannelPath gives where the crate's layout puts a channel.
func ExampleChannelPath() {
	fmt.Println(mmap.ChannelPath("/dev/shm/kekbit", 0xC2))
	fmt.Println(mmap.ChannelPath("/dev/shm/kekbit", 0xAAAA_BBBB_CCCC_DDDD))
	// Output:
	// /dev/shm/kekbit/0000_0000/0000_00c2.kekbit
	// /dev/shm/kekbit/aaaa_bbbb/cccc_dddd.kekbit
}
