// Quickstart is kekbit's main job in one process: a writer appends a few
// text records to a channel in shared memory and closes it, while a reader
// follows the channel live and prints each record with its position, then
// how the channel ended.
//
// Run it:
//
//	go run ./examples/quickstart
//	go run ./examples/quickstart --root /tmp/kekbit --n 10
//
// The channel lives in a fresh temporary folder under --root (by default
// kekbit.DefaultRoot(): /dev/shm/kekbit-UID where /dev/shm exists, else a
// folder under the system's temporary folder); the folder is removed at
// exit. The program needs one terminal only: writer and reader are two
// goroutines here, but they could as well be two processes (see
// examples/echo). It exits with status 0 when the reader saw every record
// and the writer's close mark.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/kekbit-go/kekbit"
	"github.com/kekbit-go/kekbit/codecs"
)

func main() { os.Exit(run()) }

func run() int {
	root := flag.String("root", kekbit.DefaultRoot(), "folder under which the temporary channel folder is made")
	channel := flag.Uint64("channel", 42, "channel id")
	n := flag.Int("n", 5, "records to write")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// A fresh folder of channels: channels are written once, so a new run
	// gets new ones.
	if err := os.MkdirAll(*root, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		return 1
	}
	dir, err := os.MkdirTemp(*root, "quickstart-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	fmt.Printf("channel %d in %s\n", *channel, dir)

	// The reader gives up if the writer fails or nothing shows up in time.
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()

	// The writer: create the channel, write n records, close it.
	written := make(chan error, 1)
	go func() {
		err := write(ctx, dir, *channel, *n)
		if err != nil {
			cancel()
		}
		written <- err
	}()

	// The reader: wait for the channel to appear, then follow it until it
	// ends. The payload is valid only inside the handler.
	reader, err := kekbit.TryShmReader(ctx, dir, *channel)
	if err != nil {
		fmt.Fprintln(os.Stderr, "quickstart: opening the channel:", errors.Join(err, <-written))
		return 1
	}
	defer reader.Close()

	records := 0
	end := reader.Follow(ctx, func(rec kekbit.Record) error {
		records++
		fmt.Printf("position %4d: %s\n", rec.Position, rec.Payload)
		return nil
	})
	switch {
	case errors.Is(end, kekbit.ErrClosed):
		fmt.Printf("the writer closed the channel after %d records (%d bytes)\n", records, reader.Position())
	default:
		fmt.Println("the channel ended:", end)
	}

	if err := <-written; err != nil {
		fmt.Fprintln(os.Stderr, "quickstart: writer:", err)
		return 1
	}
	if !errors.Is(end, kekbit.ErrClosed) || records != *n {
		fmt.Fprintf(os.Stderr, "quickstart: read %d of %d records\n", records, *n)
		return 1
	}
	return 0
}

// write creates channel id under root and writes n text records to it, a
// few milliseconds apart so that the reader follows them live. Close
// writes the close mark that ends the reader's Follow.
func write(ctx context.Context, root string, id uint64, n int) (err error) {
	header, err := kekbit.NewHeader(kekbit.Hints{
		WriterID:  uint64(os.Getpid()),
		ChannelID: id,
		Capacity:  64 * 1024, // bytes of records the channel can ever hold
		MaxMsgLen: 1024,      // the longest record
		Timeout:   10,        // readers give the writer up after 10 s of silence
		TickUnit:  kekbit.Secs,
	})
	if err != nil {
		return err
	}
	writer, err := kekbit.ShmWriter(root, header, codecs.Text{})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, writer.Close()) }()

	for i := range n {
		if _, err := writer.Write(fmt.Sprintf("record %d of %d, written at %s", i+1, n, time.Now().Format(time.StampMicro))); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil // interrupted: Close still marks the channel closed
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}
