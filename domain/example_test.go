package domain_test

import (
	"errors"
	"fmt"

	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
)

// A writer creates a channel; a reader follows it and learns when it ends.
func Example() {
	vol := memory.NewVolume()
	h, err := domain.NewHeader(domain.Hints{
		WriterID: 1850, ChannelID: 42,
		Capacity: 30_000, MaxMsgLen: 100,
		Timeout: 99_999_999_999, TickUnit: domain.Nanos,
	})
	if err != nil {
		panic(err)
	}
	w, err := domain.Create(vol, h, codecs.Text{})
	if err != nil {
		panic(err)
	}
	for _, s := range []string{"There", "are", "10", "kinds"} {
		if _, err := w.Write(s); err != nil {
			panic(err)
		}
	}
	w.Close()

	r, err := domain.Open(vol, 42)
	if err != nil {
		panic(err)
	}
	defer r.Close()
	for rec := range r.Records() {
		pos, payload := rec.Position, rec.Payload
		fmt.Printf("%3d %s\n", pos, payload)
	}
	fmt.Println(errors.Is(r.Err(), domain.ErrClosed))
	// Output:
	//   8 There
	//  24 are
	//  40 10
	//  56 kinds
	// true
}

// Read hands records to a handler, a batch at a time, and says where it
// stopped.
func ExampleReader_Read() {
	vol := memory.NewVolume()
	h, _ := domain.NewHeader(domain.Hints{ChannelID: 7, MaxMsgLen: 64, Timeout: 10, TickUnit: domain.Secs})
	w, _ := domain.Create(vol, h, codecs.Raw{})
	r, _ := domain.Open(vol, 7)

	w.Write([]byte("ping"))
	w.Heartbeat()
	w.Write([]byte("pong"))
	n, err := r.Read(func(rec domain.Record) error {
		pos, p := rec.Position, rec.Payload
		fmt.Printf("%d %q\n", pos, p)
		return nil
	}, 10)
	fmt.Println(n, err)

	w.Close()
	_, err = r.Read(func(domain.Record) error { return nil }, 10)
	fmt.Println(err)
	// Output:
	// 8 "ping"
	// 32 "pong"
	// 48 kekbit: nothing written yet
	// kekbit: channel closed by its writer at position 48 (after 0 bytes read)
}

// MoveTo replays a channel from any record.
func ExampleReader_MoveTo() {
	vol := memory.NewVolume()
	h, _ := domain.NewHeader(domain.Hints{ChannelID: 9, MaxMsgLen: 64, Timeout: 10, TickUnit: domain.Secs})
	w, _ := domain.Create(vol, h, codecs.Text{})
	w.Write("a")
	w.Write("b")
	w.Write("c")
	r, _ := domain.Open(vol, 9)
	r.Read(func(domain.Record) error { return nil }, 0)

	if err := r.MoveTo(24); err != nil {
		panic(err)
	}
	r.Read(func(rec domain.Record) error {
		pos, p := rec.Position, rec.Payload
		fmt.Println(pos, string(p))
		return nil
	}, 0)
	fmt.Println(r.MoveTo(28))
	// Output:
	// 24 b
	// 40 c
	// kekbit: position is not the start of a record: position 28 is not a multiple of 8
}
