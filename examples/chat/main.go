// Chat is a two-person chat over two kekbit channels: each person writes
// their lines to a channel of their own and follows the other's.
//
// Run it in two terminals:
//
//	# terminal 1
//	go run ./examples/chat --me alice --peer bob
//
//	# terminal 2
//	go run ./examples/chat --me bob --peer alice
//
// Type a line and press Enter to send it; the other terminal prints
// "alice: the line". Ctrl-D (end of input), Ctrl-C or SIGTERM leaves the
// chat: the program closes its channel, so the peer prints "* alice left"
// and waits for alice to come back.
//
// # Channels
//
// A person's channel id is the 64-bit FNV-1a hash (hash/fnv, New64a) of
// their name, so both sides find each other's channel with no set-up: alice
// writes channel fnv64a("alice") and follows fnv64a("bob"). The ids are
// printed at start. The channels live under --root (by default
// kekbit.DefaultRoot(), /dev/shm/kekbit-UID where /dev/shm exists).
//
// Either side may start first: the peer's channel is waited for in a
// goroutine while you type. A peer who starts later still reads everything
// you wrote from the start of your channel: channels are persistent.
//
// Channels are also written once. A channel left by an earlier session
// stays in --root; starting again under the same name then fails with a
// message saying so, and --fresh removes the old channel first (unless a
// running chat still writes it). The peer shows an old channel's messages
// as history and waits for a new one.
//
// While you type nothing the program sends a heartbeat every --heartbeat;
// a peer that hears nothing at all for --timeout (a chat stopped with
// Ctrl-Z, say) is reported silent. A peer that dies without closing its
// channel is reported at once: the reader sees that no process holds the
// channel's lock any more.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kekbit-go/kekbit"
	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/ports"
)

// ChannelID is the channel of the person called name: the FNV-1a 64-bit hash
// of the name's bytes.
func ChannelID(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return h.Sum64()
}

func main() { os.Exit(run()) }

func run() int {
	root := flag.String("root", kekbit.DefaultRoot(), "folder of the channels")
	me := flag.String("me", "", "your name (required)")
	peer := flag.String("peer", "", "the other person's name (required)")
	fresh := flag.Bool("fresh", false, "remove your channel first if an earlier session left it")
	capacity := flag.Uint64("capacity", 1<<20, "bytes of messages your channel can ever hold")
	maxLen := flag.Uint("max-len", 1024, "longest message in bytes")
	timeout := flag.Duration("timeout", 30*time.Second, "the peer gives you up after this much silence")
	heartbeat := flag.Duration("heartbeat", time.Second, "heartbeat interval while you type nothing")
	flag.Parse()
	if *me == "" || *peer == "" || *me == *peer {
		fmt.Fprintln(os.Stderr, "chat: --me and --peer are required and must differ, e.g. chat --me alice --peer bob")
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	myID, peerID := ChannelID(*me), ChannelID(*peer)
	if *fresh {
		if err := removeStale(*root, myID); err != nil {
			fmt.Fprintln(os.Stderr, "chat:", err)
			return 1
		}
	}
	header, err := kekbit.NewHeader(kekbit.Hints{
		WriterID:  uint64(os.Getpid()),
		ChannelID: myID,
		Capacity:  uint32(min(*capacity, math.MaxUint32)),
		MaxMsgLen: uint32(min(*maxLen, math.MaxUint32)),
		Timeout:   uint64(timeout.Milliseconds()),
		TickUnit:  kekbit.Millis,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "chat:", err)
		return 2
	}
	writer, err := kekbit.ShmWriter(*root, header, codecs.Text{})
	if errors.Is(err, ports.ErrChannelExists) {
		explainExists(*root, *me, myID)
		return 1
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "chat:", err)
		return 1
	}
	// Close marks the channel closed: the peer prints "left".
	defer writer.Close()
	fmt.Printf("* you are %s (channel %#x in %s); %s is channel %#x\n", *me, myID, *root, *peer, peerID)
	fmt.Println("* type a line and press Enter to send it; Ctrl-D leaves")

	// The peer's channel is followed in a goroutine with a reader of its
	// own, until ctx is done.
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { follow(ctx, *root, peerID, *peer) })
	defer wg.Wait()
	defer cancel()

	// Standard input is read in a goroutine so that this one, the only one
	// that touches the writer (a Writer is not safe for concurrent use), can
	// also send heartbeats and notice signals.
	lines := make(chan string)
	go func() {
		defer close(lines)
		in := bufio.NewReader(os.Stdin)
		for {
			line, err := in.ReadString('\n')
			if line != "" {
				lines <- strings.TrimRight(line, "\r\n")
			}
			if err != nil {
				if err != io.EOF {
					fmt.Fprintln(os.Stderr, "chat: reading your input:", err)
				}
				return
			}
		}
	}()

	ticker := time.NewTicker(*heartbeat)
	defer ticker.Stop()
	busy := false // a message went out since the last tick
	for {
		select {
		case <-ctx.Done():
			fmt.Println("* interrupted: leaving")
			return 0
		case line, ok := <-lines:
			if !ok {
				fmt.Println("* leaving")
				return 0
			}
			if line == "" {
				continue // nothing to say (and an empty record is not allowed)
			}
			_, err := writer.Write(line)
			switch {
			case errors.Is(err, kekbit.ErrRecordTooLarge):
				fmt.Printf("* not sent: longer than %d bytes\n", writer.Header().MaxMsgLen)
			case errors.Is(err, kekbit.ErrNoSpace):
				fmt.Println("* not sent: your channel has no room left for it; start again with --fresh")
			case errors.Is(err, kekbit.ErrEncoding):
				fmt.Println("* not sent: not valid UTF-8 text")
			case errors.Is(err, kekbit.ErrChannelFull):
				fmt.Println("* your channel is full: start again with --fresh")
				return 1
			case err != nil:
				fmt.Fprintln(os.Stderr, "chat:", err)
				return 1
			}
			busy = true
		case <-ticker.C:
			if !busy {
				if _, err := writer.Heartbeat(); err != nil {
					fmt.Fprintln(os.Stderr, "chat: heartbeat:", err)
					return 1
				}
			}
			busy = false
		}
	}
}

// follow prints the messages of the peer's channel id under root, and what
// becomes of the peer, until ctx is done. When the peer leaves it waits for
// the peer to come back with a new channel.
func follow(ctx context.Context, root string, id uint64, peer string) {
	var last *kekbit.Header // the peer's previous channel
	for {
		if last == nil {
			fmt.Printf("* waiting for %s\n", peer)
		} else {
			fmt.Printf("* waiting for %s to come back\n", peer)
		}
		r, err := openNew(ctx, root, id, last)
		if err != nil {
			return // ctx is done
		}
		h := r.Header()
		last = &h
		if alive, _ := r.WriterAlive(); alive {
			fmt.Printf("* %s is here\n", peer)
		} else {
			fmt.Printf("* %s is not here; %s's messages of %s:\n", peer, peer, h.Created().Format(time.DateTime))
		}
		end := r.Follow(ctx, func(rec kekbit.Record) error {
			msg := rec.Payload
			fmt.Printf("%s: %s\n", peer, msg)
			return nil
		})
		r.Close()
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(end, kekbit.ErrClosed):
			fmt.Printf("* %s left\n", peer)
		case errors.Is(end, kekbit.ErrWriterGone):
			fmt.Printf("* %s is gone (their chat ended without closing its channel)\n", peer)
		case errors.Is(end, kekbit.ErrTimeout):
			fmt.Printf("* %s has been silent for over %s: giving up on them\n", peer, h.TimeoutDuration())
		case errors.Is(end, kekbit.ErrChannelFull):
			fmt.Printf("* %s's channel is full\n", peer)
		default:
			fmt.Printf("* %s's channel: %v\n", peer, end)
		}
	}
}

// openNew waits for channel id under root to be ready and opens it. If
// last is not nil it skips that channel (a closed channel is still there
// until its writer starts anew with --fresh) and waits for another.
func openNew(ctx context.Context, root string, id uint64, last *kekbit.Header) (*kekbit.Reader, error) {
	for {
		r, err := kekbit.TryShmReader(ctx, root, id)
		if err != nil {
			return nil, err
		}
		if last == nil || r.Header() != *last {
			return r, nil
		}
		r.Close()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// explainExists tells the user why their channel cannot be created.
func explainExists(root, me string, id uint64) {
	st, err := mmap.NewVolume(root).Open(id)
	if err == nil {
		alive, _ := st.(ports.Liveness).WriterAlive()
		st.Close()
		if alive {
			fmt.Fprintf(os.Stderr, "chat: %s is already chatting: another chat writes channel %#x in %s.\n", me, id, root)
			return
		}
	}
	fmt.Fprintf(os.Stderr, "chat: %s's channel from an earlier session (%#x) is still in %s, and a channel is written once.\n"+
		"Start with --fresh to remove it (your peer then no longer sees its messages).\n", me, id, root)
}

// removeStale removes channel id from root unless a writer still holds it
// (kekbit.RemoveAbandoned); a channel that is not there is fine.
func removeStale(root string, id uint64) error {
	if err := kekbit.RemoveAbandoned(mmap.NewVolume(root), id); err != nil && !errors.Is(err, kekbit.ErrChannelNotFound) {
		return err
	}
	return nil
}
