package file_test

import (
	"fmt"
	"log"

	"github.com/spf13/afero"

	"github.com/kekbit-go/kekbit/adapters/file"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
)

// A writer creates a channel in a folder of a file system, here afero's
// memory one (afero.NewOsFs() for the disk); a reader opens it by id and
// reads what was written.
func Example() {
	vol := file.NewVolume(afero.NewMemMapFs(), "/channels")

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
	for _, s := range []string{"hello", "plain", "files"} {
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
	// 24: plain
	// 40: files
	// kekbit: channel closed by its writer at position 56 (after 56 bytes read)
}
