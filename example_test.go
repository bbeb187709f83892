package kekbit_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/kekbit-go/kekbit"
	"github.com/kekbit-go/kekbit/adapters/memory"
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
		fmt.Println(rec.Position, string(rec.Payload))
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
	err = r.Follow(ctx, func(rec kekbit.Record) error {
		fmt.Println(string(rec.Payload))
		return nil
	})
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

// Any volume works the same way; here the in-process one. A consumer that
// stores the Next of each record it handled resumes after a restart with
// MoveTo: the next record, never one twice.
func ExampleReader_MoveTo() {
	vol := memory.NewVolume()
	h, _ := kekbit.NewHeader(kekbit.Hints{ChannelID: 1, MaxMsgLen: 64, Timeout: 10, TickUnit: kekbit.Secs})
	w, _ := kekbit.Create(vol, h, codecs.Text{})
	for _, s := range []string{"a", "b", "c", "d"} {
		w.Write(s)
	}
	w.Close()

	var saved uint64 // what the consumer stores, say in a file
	r, _ := kekbit.Open(vol, 1)
	for rec := range r.Records() {
		fmt.Println("handled", string(rec.Payload))
		saved = rec.Next()
		if string(rec.Payload) == "b" {
			break // the consumer stops here
		}
	}
	r.Close()

	r, _ = kekbit.Open(vol, 1) // after a restart
	defer r.Close()
	r.MoveTo(saved)
	for rec := range r.Records() {
		fmt.Println("handled", string(rec.Payload))
	}
	fmt.Println(errors.Is(r.Err(), kekbit.ErrClosed))
	// Output:
	// handled a
	// handled b
	// handled c
	// handled d
	// true
}

// Decode reads typed values as the writer's encoder wrote them.
func ExampleDecode() {
	type Order struct {
		ID   int    `json:"id"`
		Item string `json:"item"`
	}
	vol := memory.NewVolume()
	h, _ := kekbit.NewHeader(kekbit.Hints{ChannelID: 2, MaxMsgLen: 64, Timeout: 10, TickUnit: kekbit.Secs})
	w, _ := kekbit.Create(vol, h, codecs.JSON[Order]{})
	w.Write(Order{ID: 1, Item: "tea"})
	w.Write(Order{ID: 2, Item: "cake"})
	w.Close()

	r, _ := kekbit.Open(vol, 2)
	defer r.Close()
	for v, err := range kekbit.Decode(r.Records(), codecs.JSON[Order]{}) {
		fmt.Println(v.Position, v.Value.ID, v.Value.Item, err)
	}
	// Output:
	// 8 1 tea <nil>
	// 40 2 cake <nil>
}

// A writer that died (here: gave the channel up with Release) is carried on
// by Resume, after its last record.
func ExampleResume() {
	vol := memory.NewVolume()
	h, _ := kekbit.NewHeader(kekbit.Hints{ChannelID: 3, MaxMsgLen: 64, Timeout: 10, TickUnit: kekbit.Secs})
	w, _ := kekbit.Create(vol, h, codecs.Text{})
	w.Write("before")
	w.Release()

	w, err := kekbit.Resume(vol, 3, codecs.Text{})
	if err != nil {
		panic(err)
	}
	w.Write("after")
	w.Close()

	r, _ := kekbit.Open(vol, 3)
	defer r.Close()
	for rec := range r.Records() {
		fmt.Println(rec.Position, string(rec.Payload))
	}
	// Output:
	// 8 before
	// 24 after
}

// Two writers of one multi-writer channel, each in its own goroutine (or
// process): the one that finds the channel made joins it. Readers read the
// records in the order of their claims.
func ExampleJoin() {
	vol := memory.NewVolume()
	h, err := kekbit.NewHeader(kekbit.Hints{ChannelID: 7, Capacity: 1 << 16, MaxMsgLen: 100,
		Timeout: 2000, TickUnit: kekbit.Millis, Envelope: kekbit.EnvelopeAll, MultiWriter: true})
	if err != nil {
		panic(err)
	}
	a, err := kekbit.Create(vol, h, codecs.Text{})
	if err != nil {
		panic(err)
	}
	b, err := kekbit.Join(vol, 7, codecs.Text{})
	if err != nil {
		panic(err)
	}
	a.Write("from a")
	p, _ := b.Claim(6) // filled in place
	copy(p, "from b")
	a.Write("a again") // after b's claim, which is still open
	b.Commit(6)
	b.Release() // b leaves; a's Close ends the channel for all
	a.Close()

	r, _ := kekbit.Open(vol, 7)
	for rec := range r.Records() {
		fmt.Println(r.Seq(), string(rec.Payload))
	}
	fmt.Println(r.Err())
	// Output:
	// 0 from a
	// 1 from b
	// 2 a again
	// kekbit: channel closed by its writer at position 120 (after 120 bytes read)
}
