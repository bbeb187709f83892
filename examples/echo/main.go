// Echo carries a text stream from one process to another through a kekbit
// channel: "echo write" turns the lines of its standard input into records,
// "echo read" prints the records as they arrive.
//
// Run it in two terminals (either may start first):
//
//	# terminal 1: waits for the channel, then prints what is typed in terminal 2
//	go run ./examples/echo read
//
//	# terminal 2: type lines; Ctrl-D (end of input) or Ctrl-C closes the channel
//	go run ./examples/echo write
//
// or pipe a file through it:
//
//	go run ./examples/echo write --fresh < /etc/services
//	go run ./examples/echo read > copy.txt && cmp /etc/services copy.txt
//
// Each line, newline included, is one record, so the reader's output is the
// writer's input byte for byte, empty lines included (an empty record cannot
// exist: the format could not tell it from a heartbeat). A line longer than
// the channel's max record length (--max-len) is split over several records.
//
// The writer closes the channel at the end of its input or on SIGINT or
// SIGTERM, and the reader then exits with status 0. While its input is idle
// the writer sends a heartbeat every --heartbeat, so the reader knows it is
// still there. The reader exits with status 1, saying why on standard
// error, when the writer dies without closing the channel, goes silent for
// longer than the channel's --timeout, or fills the channel (--capacity).
//
// Channels are written once: the channel stays in --root after the writer
// has gone (a reader started later still reads it all), and a second
// "echo write" on the same --channel fails until the old channel is removed
// with --fresh.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/kekbit-go/kekbit"
	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/ports"
)

const usage = `usage:
  echo write [--root DIR] [--channel ID] [--fresh] [--capacity N] [--max-len N] [--timeout D] [--heartbeat D]
  echo read  [--root DIR] [--channel ID] [--wait D]

"echo write" turns standard input into records, one per line; "echo read"
prints them as they arrive. Run "echo write -h" or "echo read -h" for the
flags.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var code int
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "write":
		code = write(ctx, args)
	case "read":
		code = read(ctx, args)
	case "-h", "-help", "--help", "help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "echo: unknown command %q\n%s", cmd, usage)
		code = 2
	}
	stop()
	os.Exit(code)
}

// defaultChannel is the channel both commands use unless told otherwise.
const defaultChannel = 0xec40

func write(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("echo write", flag.ExitOnError)
	root := fs.String("root", kekbit.DefaultRoot(), "folder of the channels")
	channel := fs.Uint64("channel", defaultChannel, "channel id (decimal or 0x hex)")
	fresh := fs.Bool("fresh", false, "remove the channel first if an earlier writer left it")
	capacity := fs.Uint64("capacity", 1<<20, "bytes of records the channel can ever hold")
	maxLen := fs.Uint64("max-len", 4096, "longest record in bytes; longer lines are split")
	timeout := fs.Duration("timeout", 10*time.Second, "readers give the writer up after this much silence")
	heartbeat := fs.Duration("heartbeat", time.Second, "heartbeat interval while the input is idle")
	fs.Parse(args)

	if *fresh {
		if err := removeStale(*root, *channel); err != nil {
			fmt.Fprintln(os.Stderr, "echo write:", err)
			return 1
		}
	}
	header, err := kekbit.NewHeader(kekbit.Hints{
		WriterID:  uint64(os.Getpid()),
		ChannelID: *channel,
		Capacity:  uint32(min(*capacity, math.MaxUint32)),
		MaxMsgLen: uint32(min(*maxLen, math.MaxUint32)),
		Timeout:   uint64(timeout.Milliseconds()),
		TickUnit:  kekbit.Millis,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo write:", err)
		return 2
	}
	writer, err := kekbit.ShmWriter(*root, header, codecs.Raw{})
	if errors.Is(err, ports.ErrChannelExists) {
		fmt.Fprintf(os.Stderr, "echo write: channel %#x already exists in %s: a channel is written once.\n"+
			"Run with --fresh to remove it, or pick another --channel.\n", *channel, *root)
		return 1
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo write:", err)
		return 1
	}
	// The header may have adjusted the hints: this is the real maximum.
	maxRecord := int(writer.Header().MaxMsgLen)
	fmt.Fprintf(os.Stderr, "echo write: channel %#x in %s, %d bytes, records up to %d bytes; end with Ctrl-D\n",
		*channel, *root, writer.Header().Capacity, maxRecord)

	// The standard input is read in a goroutine so that this one, the only
	// one that touches the writer (a Writer is not safe for concurrent use),
	// can also send heartbeats and notice signals.
	lines := make(chan []byte)
	readErr := make(chan error, 1)
	go readLines(os.Stdin, maxRecord, lines, readErr)

	ticker := time.NewTicker(*heartbeat)
	defer ticker.Stop()
	busy := false // a record went out since the last tick
	code := 0
loop:
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(os.Stderr, "echo write: interrupted")
			break loop
		case line, ok := <-lines:
			if !ok {
				if err := <-readErr; err != nil {
					fmt.Fprintln(os.Stderr, "echo write: reading the input:", err)
					code = 1
				}
				break loop
			}
			if _, err := writer.Write(line); err != nil {
				fmt.Fprintln(os.Stderr, "echo write:", err)
				code = 1
				break loop
			}
			busy = true
		case <-ticker.C:
			if !busy {
				if _, err := writer.Heartbeat(); err != nil {
					fmt.Fprintln(os.Stderr, "echo write:", err)
					code = 1
					break loop
				}
			}
			busy = false
		}
	}
	// Close writes the close mark: readers end with "closed".
	if err := writer.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "echo write: closing the channel:", err)
		return 1
	}
	return code
}

// readLines sends the lines of in, newline included, each cut into pieces
// of at most size bytes, then closes lines and sends the read error (nil
// at the end of the input) on errc.
func readLines(in io.Reader, size int, lines chan<- []byte, errc chan<- error) {
	defer close(lines)
	r := bufio.NewReaderSize(in, size)
	for {
		line, err := r.ReadSlice('\n') // ends early, with ErrBufferFull, for a long line
		for len(line) > 0 {
			n := min(len(line), size)      // bufio's buffer has at least 16 bytes
			lines <- bytes.Clone(line[:n]) // the slice is only valid until the next read
			line = line[n:]
		}
		switch err {
		case nil, bufio.ErrBufferFull:
			continue
		case io.EOF:
			err = nil
		}
		errc <- err
		return
	}
}

func read(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("echo read", flag.ExitOnError)
	root := fs.String("root", kekbit.DefaultRoot(), "folder of the channels")
	channel := fs.Uint64("channel", defaultChannel, "channel id (decimal or 0x hex)")
	wait := fs.Duration("wait", 0, "how long to wait for the channel to appear (0: until interrupted)")
	fs.Parse(args)

	waitCtx := ctx
	if *wait > 0 {
		var cancel context.CancelFunc
		waitCtx, cancel = context.WithTimeout(ctx, *wait)
		defer cancel()
	}
	reader, err := kekbit.TryShmReader(waitCtx, *root, *channel)
	if err != nil {
		if ctx.Err() != nil {
			return 0 // interrupted while waiting
		}
		fmt.Fprintln(os.Stderr, "echo read:", err)
		return 1
	}
	defer reader.Close()
	h := reader.Header()
	fmt.Fprintf(os.Stderr, "echo read: channel %#x in %s, created %s by writer %d\n",
		*channel, *root, h.Created().Format(time.DateTime), h.WriterID)

	// Each payload is written out before the handler returns: it is only
	// valid until then.
	var out error
	end := reader.Follow(ctx, func(rec kekbit.Record) error {
		payload := rec.Payload
		if out == nil {
			_, out = os.Stdout.Write(payload)
		}
		return nil
	})
	if out != nil {
		fmt.Fprintln(os.Stderr, "echo read: writing the output:", out)
		return 1
	}
	switch {
	case errors.Is(end, kekbit.ErrClosed):
		return 0
	case ctx.Err() != nil:
		fmt.Fprintln(os.Stderr, "echo read: interrupted")
		return 0
	}
	var re *kekbit.ReadError
	if !errors.As(end, &re) {
		fmt.Fprintln(os.Stderr, "echo read:", end)
		return 1
	}
	switch re.Err {
	case kekbit.ErrWriterGone:
		fmt.Fprintf(os.Stderr, "echo read: the writer is gone without closing the channel (after %d bytes)\n", re.Position)
	case kekbit.ErrTimeout:
		fmt.Fprintf(os.Stderr, "echo read: the writer has been silent for over %s (after %d bytes)\n", h.TimeoutDuration(), re.Position)
	case kekbit.ErrChannelFull:
		fmt.Fprintf(os.Stderr, "echo read: the channel is full (%d bytes): the writer could not send everything\n", re.Position)
	default:
		fmt.Fprintln(os.Stderr, "echo read:", end)
	}
	return 1
}

// removeStale removes channel id from root unless a writer still holds it
// (kekbit.RemoveAbandoned); a channel that is not there is fine.
func removeStale(root string, id uint64) error {
	if err := kekbit.RemoveAbandoned(mmap.NewVolume(root), id); err != nil && !errors.Is(err, kekbit.ErrChannelNotFound) {
		return err
	}
	return nil
}
