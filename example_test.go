package kekbit_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/kekbit-go/kekbit"
	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
)

// The seed's example: a writer on a channel in a folder, a reader
// following it.
func ExampleShmWriter() {
	root, _ := os.MkdirTemp("", "kektest")
	defer os.RemoveAll(root)

	const forever = 99_999_999_999
	header, err := kekbit.NewHeader(kekbit.Hints{
		WriterID: 1850, ChannelID: 42,
		Capacity: 30_000, MaxMsgLen: 100,
		Timeout: forever, TickUnit: kekbit.Nanos,
	})
	if err != nil {
		panic(err)
	}
	writer, err := kekbit.ShmWriter(root, header, codecs.Text{})
	if err != nil {
		panic(err)
	}
	n, err := writer.Write("There are 10 kinds of people: those who know binary and those who don't")
	fmt.Println(n, err, writer.WriteOffset(), writer.Available())
	writer.Close()

	reader, err := kekbit.ShmReader(root, 42)
	if err != nil {
		panic(err)
	}
	defer reader.Close()
	for rec := range reader.Records() {
		pos, msg := rec.Position, rec.Payload
		fmt.Println(pos, string(msg))
	}
	fmt.Println(reader.Err())
	// Output:
	// 80 <nil> 88 29912
	// 8 There are 10 kinds of people: those who know binary and those who don't
	// kekbit: channel closed by its writer at position 88 (after 88 bytes read)
}

// A reader may start before its writer: TryShmReader waits for the channel
// and Follow waits for records.
func ExampleTryShmReader() {
	root, _ := os.MkdirTemp("", "kektest")
	defer os.RemoveAll(root)

	go func() {
		time.Sleep(10 * time.Millisecond)
		h, _ := kekbit.NewHeader(kekbit.Hints{ChannelID: 7, MaxMsgLen: 64, Timeout: 10, TickUnit: kekbit.Secs})
		w, err := kekbit.ShmWriter(root, h, codecs.Text{})
		if err != nil {
			panic(err)
		}
		for _, s := range []string{"one", "two", "three"} {
			w.Write(s)
			time.Sleep(time.Millisecond)
		}
		w.Close()
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := kekbit.TryShmReader(ctx, root, 7)
	if err != nil {
		panic(err)
	}
	defer r.Close()
	err = r.Follow(ctx, func(rec kekbit.Record) error { p := rec.Payload; fmt.Println(string(p)); return nil })
	fmt.Println(errors.Is(err, kekbit.ErrClosed))
	// Output:
	// one
	// two
	// three
	// true
}

// RemoveAbandoned frees the id of a channel nobody writes any more.
func ExampleRemoveAbandoned() {
	root, _ := os.MkdirTemp("", "kektest")
	defer os.RemoveAll(root)
	h, _ := kekbit.NewHeader(kekbit.Hints{ChannelID: 5, MaxMsgLen: 64, Timeout: 10, TickUnit: kekbit.Secs})

	w, _ := kekbit.ShmWriter(root, h, codecs.Raw{})
	fmt.Println(errors.Is(kekbit.RemoveAbandoned(mmap.NewVolume(root), 5), kekbit.ErrWriterAlive))
	w.Close()
	fmt.Println(kekbit.RemoveAbandoned(mmap.NewVolume(root), 5))
	_, err := kekbit.ShmWriter(root, h, codecs.Raw{})
	fmt.Println(err)
	// Output:
	// true
	// <nil>
	// <nil>
}
