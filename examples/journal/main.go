// Journal is an order log that never fills, with a consumer that survives
// restarts: a producer appends orders to a journal (a series of channels
// it rolls over as each fills), and a consumer, a named reader, prints
// each order once, committing its position after each, so that a consumer
// stopped (or killed) and started again goes on after the last order it
// committed.
//
// Run it, in two terminals:
//
//	go run ./examples/journal produce --dir /dev/shm/orders --n 100000
//	go run ./examples/journal consume --dir /dev/shm/orders --name billing
//
// Stop the consumer (Ctrl-C) and start it again: it goes on where it
// stopped. The producer closes the journal when it has written --n orders
// (run it again to add more: the journal goes on); the consumer then ends.
// --max stops the consumer after that many orders, as a restart would;
// --wait keeps it waiting at the end of a closed journal for the next
// producer run.
// The positions of named readers live in DIR/readers.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/journal"
	"github.com/kekbit-go/kekbit/journal/positions"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	if len(args) == 0 || (args[0] != "produce" && args[0] != "consume") {
		fmt.Fprintln(os.Stderr, "usage: journal produce|consume --dir DIR [flags]")
		return 2
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	dir := fs.String("dir", filepath.Join(os.TempDir(), "kekbit-orders"), "the journal's folder")
	n := fs.Int("n", 1000, "produce: orders to write")
	segment := fs.Uint("segment-size", 1<<20, "produce: bytes per segment")
	name := fs.String("name", "billing", "consume: the named reader")
	maxOrders := fs.Int("max", 0, "consume: stop after this many orders (0: at the journal's end)")
	wait := fs.Bool("wait", false, "consume: at the end of a closed journal, wait for a producer to open it again")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	vol := mmap.NewVolume(*dir)
	readers := positions.NewMapped(filepath.Join(*dir, "readers"))
	var err error
	if args[0] == "produce" {
		err = produce(vol, uint32(*segment), *n)
	} else {
		err = consume(ctx, vol, readers, *name, *maxOrders, *wait)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "journal:", err)
		return 1
	}
	return 0
}

// produce appends n orders and closes the journal.
func produce(vol *mmap.Volume, segment uint32, n int) error {
	w, err := journal.OpenWriter(vol, codecs.Text{}, journal.WithSegmentSize(segment))
	if err != nil {
		return err
	}
	first := w.NextSeq()
	for i := 0; i < n; i++ {
		seq := first + uint64(i)
		if _, err := w.Write(fmt.Sprintf("order %d: %d widgets", seq, 1+seq%7)); err != nil {
			w.Close()
			return err
		}
	}
	fmt.Printf("wrote orders %d..%d, journal in %d segments so far\n", first, first+uint64(n)-1, w.Segment()+1)
	return w.Close()
}

// errEnough stops the consumer after --max orders.
var errEnough = errors.New("enough")

// consume prints orders from where the named reader stopped, committing
// each after it is printed.
func consume(ctx context.Context, vol *mmap.Volume, readers journal.Positions, name string, maxOrders int, wait bool) error {
	opts := []journal.Option{journal.WithName(readers, name)}
	if wait {
		opts = append(opts, journal.WithKeepWaiting())
	}
	r, err := journal.OpenReader(vol, opts...)
	if err != nil {
		return err
	}
	defer r.Close()
	count := 0
	err = r.Follow(ctx, func(rec journal.Record) error {
		fmt.Printf("%d %s\n", rec.Seq, rec.Payload)
		if err := r.Commit(); err != nil { // after the work: printed
			return err
		}
		if count++; maxOrders > 0 && count >= maxOrders {
			return errEnough
		}
		return nil
	})
	switch {
	case errors.Is(err, journal.ErrClosed):
		fmt.Printf("journal closed; %s read %d orders this run\n", name, count)
		return nil
	case errors.Is(err, errEnough), errors.Is(err, context.Canceled):
		fmt.Printf("stopped; %s read %d orders this run, at %v\n", name, count, r.Position())
		return nil
	}
	return err
}
