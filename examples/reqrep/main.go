// Reqrep is request/reply between two processes over two kekbit channels,
// with round-trip latency figures: the client writes requests to a request
// channel, the server answers each on a reply channel with the request in
// upper case, and the client checks every reply.
//
// Run it in two terminals (either may start first):
//
//	# terminal 1: serves one client after another until Ctrl-C
//	go run ./examples/reqrep server
//
//	# terminal 2: 100000 requests, one at a time, then latency figures
//	go run ./examples/reqrep client --n 100000
//
// The client prints min, median, p99 and max of the round trips (write a
// request, see the reply in the reply channel) and the requests per second.
// Both wait for the other side with a wait strategy (kekbit.WithWait) that
// spins --spins times before it yields and sleeps: a reply usually comes
// within microseconds, and a spinning reader sees it at once. --spins -1
// spins forever (kekbit.BusySpin): the lowest latency, one busy core on each
// side, and a dead peer is then noticed only after the channel's timeout
// instead of at once.
//
// # Sessions
//
// Channels are written once, so each client gets a new pair. The client
// creates the request channel (--requests, default 0x72657100) and then
// waits for the reply channel (--replies, default 0x72657200). The server
// waits for the request channel, creates the reply channel with the same
// capacity, and answers until the client closes its channel. Then it
// removes both channels, which makes room for the next client, and closes
// the reply channel, which tells this client that the next may start.
// A client started while another runs is refused (the request channel
// exists); so is one whose request channel was left by a client interrupted
// before the server answered it: --fresh removes such a leftover.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/kekbit-go/kekbit"
	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/ports"
)

const usage = `usage:
  reqrep server [--root DIR] [--requests ID] [--replies ID] [--spins N] [--once]
  reqrep client [--root DIR] [--requests ID] [--replies ID] [--spins N] [--n N] [--fresh] [--wait D] [--timeout D]

Run "reqrep server -h" or "reqrep client -h" for the flags.
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
	case "server":
		code = server(ctx, args)
	case "client":
		code = client(ctx, args)
	case "-h", "-help", "--help", "help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "reqrep: unknown command %q\n%s", cmd, usage)
		code = 2
	}
	stop()
	os.Exit(code)
}

// common are the flags of both commands.
type common struct {
	root     string
	requests uint64
	replies  uint64
	spins    int
}

func (c *common) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.root, "root", kekbit.DefaultRoot(), "folder of the channels")
	fs.Uint64Var(&c.requests, "requests", 0x72657100, "request channel id (decimal or 0x hex)")
	fs.Uint64Var(&c.replies, "replies", 0x72657200, "reply channel id (decimal or 0x hex)")
	fs.IntVar(&c.spins, "spins", 100_000, "re-reads before yielding and sleeping while waiting; -1: spin forever")
}

// wait is how readers wait for the other side: spin, then yield a little,
// then sleep briefly. After a sleep a reader asks whether the writer is
// still alive, so a dead peer is noticed at once (kekbit.BusySpin never
// sleeps, so never asks).
func (c *common) wait() kekbit.Wait {
	if c.spins < 0 {
		return kekbit.BusySpin
	}
	return kekbit.Wait{Spins: c.spins, Yields: 100, MinSleep: 10 * time.Microsecond, MaxSleep: time.Millisecond}
}

// open waits for channel id to be ready, then opens it for following with
// the wait strategy. TryShmReader polls the file system with the wait
// strategy of the reader it opens, which for a spinning one would be a hot
// loop of system calls: it waits with the default strategy, and the reader
// is opened again with ours.
func (c *common) open(ctx context.Context, id uint64) (*kekbit.Reader, error) {
	r, err := kekbit.TryShmReader(ctx, c.root, id)
	if err != nil {
		return nil, err
	}
	r.Close()
	return kekbit.ShmReader(c.root, id, kekbit.WithWait(c.wait()))
}

func server(ctx context.Context, args []string) int {
	var c common
	fs := flag.NewFlagSet("reqrep server", flag.ExitOnError)
	c.flags(fs)
	once := fs.Bool("once", false, "serve one client, then exit")
	fs.Parse(args)

	// A reply channel left by a server that died is removed; one held by a
	// running server means this one is not needed.
	if err := removeStale(c.root, c.replies); err != nil {
		fmt.Fprintln(os.Stderr, "reqrep server:", err)
		return 1
	}
	for {
		fmt.Fprintf(os.Stderr, "reqrep server: waiting for a client on channel %#x in %s\n", c.requests, c.root)
		requests, err := c.open(ctx, c.requests)
		if ctx.Err() != nil {
			return 0 // interrupted
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "reqrep server:", err)
			return 1
		}
		served, end, err := c.serve(ctx, requests)
		requests.Close()
		if errors.Is(err, ports.ErrChannelExists) {
			fmt.Fprintln(os.Stderr, "reqrep server: is another server running?", err)
			return 1
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "reqrep server:", err)
			return 1
		}
		fmt.Fprintf(os.Stderr, "reqrep server: %d requests served, then %s\n", served, why(end, "the client"))
		if ctx.Err() != nil || *once {
			return 0
		}
	}
}

// serve answers the requests of one client until its channel ends. It
// returns the requests answered, why the request channel ended, and an
// error if the reply channel failed.
func (c *common) serve(ctx context.Context, requests *kekbit.Reader) (served int, end, err error) {
	// The reply channel mirrors the request channel: every reply is as
	// long as its request.
	q := requests.Header()
	header, err := kekbit.NewHeader(kekbit.Hints{
		WriterID:  uint64(os.Getpid()),
		ChannelID: c.replies,
		Capacity:  q.Capacity,
		MaxMsgLen: q.MaxMsgLen,
		Timeout:   q.Timeout,
		TickUnit:  q.TickUnit,
	})
	if err != nil {
		return 0, nil, err
	}
	replies, err := kekbit.ShmWriter(c.root, header, codecs.Raw{})
	if err != nil {
		return 0, nil, err
	}
	// At the end both channels are removed, reply channel first: once the
	// request channel is gone the next client may start, and must not find
	// this session's replies. Then Close marks the reply channel closed (the
	// client still has it mapped): the client learns that the session is
	// over, and that the next client can start at once.
	defer func() {
		vol := mmap.NewVolume(c.root)
		err = errors.Join(err,
			ignoreNotFound(vol.Remove(c.replies)),
			ignoreNotFound(vol.Remove(c.requests)),
			replies.Close())
	}()

	reply := make([]byte, q.MaxMsgLen)
	for rec := range requests.FollowRecords(ctx) {
		request := rec.Payload
		reply = upper(reply[:0], request)
		if _, err := replies.Write(reply); err != nil {
			return served, nil, fmt.Errorf("replying to request %d: %w", served, err)
		}
		served++
	}
	return served, requests.Err(), nil
}

// upper appends p in ASCII upper case to dst.
func upper(dst, p []byte) []byte {
	for _, b := range p {
		if 'a' <= b && b <= 'z' {
			b -= 'a' - 'A'
		}
		dst = append(dst, b)
	}
	return dst
}

// request is the text of request i.
func request(dst []byte, i int) []byte {
	dst = append(dst, "request "...)
	dst = strconv.AppendInt(dst, int64(i), 10)
	return append(dst, ": hello, kekbit"...)
}

// maxRequest is the length of the longest request.
const maxRequest = len("request -9223372036854775808: hello, kekbit")

func client(ctx context.Context, args []string) int {
	var c common
	fs := flag.NewFlagSet("reqrep client", flag.ExitOnError)
	c.flags(fs)
	n := fs.Int("n", 100_000, "requests to send")
	fresh := fs.Bool("fresh", false, "remove a request channel left by an earlier client first")
	wait := fs.Duration("wait", 0, "how long to wait for the server (0: until interrupted)")
	timeout := fs.Duration("timeout", 10*time.Second, "the server gives the client up after this much silence")
	fs.Parse(args)
	if *n <= 0 {
		fmt.Fprintln(os.Stderr, "reqrep client: --n must be positive")
		return 2
	}

	// The request channel holds every request of the session.
	capacity := uint64(*n)*kekbit.RecordSize(uint64(maxRequest)) + 4096
	if capacity > math.MaxUint32 {
		fmt.Fprintf(os.Stderr, "reqrep client: %d requests do not fit a channel; ask for fewer\n", *n)
		return 2
	}
	if *fresh {
		if err := removeStale(c.root, c.requests); err != nil {
			fmt.Fprintln(os.Stderr, "reqrep client:", err)
			return 1
		}
	}
	header, err := kekbit.NewHeader(kekbit.Hints{
		WriterID:  uint64(os.Getpid()),
		ChannelID: c.requests,
		Capacity:  uint32(capacity),
		MaxMsgLen: uint32(maxRequest),
		Timeout:   uint64(timeout.Milliseconds()),
		TickUnit:  kekbit.Millis,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "reqrep client:", err)
		return 2
	}
	requests, err := kekbit.ShmWriter(c.root, header, codecs.Raw{})
	if errors.Is(err, ports.ErrChannelExists) {
		fmt.Fprintf(os.Stderr, "reqrep client: request channel %#x exists in %s: another client is running,\n"+
			"or an interrupted one left it (then --fresh removes it).\n", c.requests, c.root)
		return 1
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "reqrep client:", err)
		return 1
	}
	// Close marks the request channel closed: the server ends the session.
	defer requests.Close()

	fmt.Fprintf(os.Stderr, "reqrep client: waiting for the server on channel %#x in %s\n", c.replies, c.root)
	waitCtx := ctx
	if *wait > 0 {
		var cancel context.CancelFunc
		waitCtx, cancel = context.WithTimeout(ctx, *wait)
		defer cancel()
	}
	replies, err := c.open(waitCtx, c.replies)
	if err != nil {
		if ctx.Err() != nil {
			return 0 // interrupted
		}
		fmt.Fprintln(os.Stderr, "reqrep client: no server:", err)
		return 1
	}
	defer replies.Close()

	// One request at a time: write it, wait for its reply, check it.
	rtt := make([]time.Duration, 0, *n)
	req := request(make([]byte, 0, maxRequest), 0)
	want := upper(make([]byte, 0, maxRequest), req)
	start := time.Now()
	sent := start
	if _, err := requests.Write(req); err != nil {
		fmt.Fprintln(os.Stderr, "reqrep client:", err)
		return 1
	}
	for rec := range replies.FollowRecords(ctx) {
		reply := rec.Payload
		rtt = append(rtt, time.Since(sent))
		if string(reply) != string(want) {
			fmt.Fprintf(os.Stderr, "reqrep client: reply %d is %q, want %q\n", len(rtt)-1, reply, want)
			return 1
		}
		if len(rtt) == *n {
			break
		}
		req = request(req[:0], len(rtt))
		want = upper(want[:0], req)
		sent = time.Now()
		if _, err := requests.Write(req); err != nil {
			fmt.Fprintln(os.Stderr, "reqrep client:", err)
			return 1
		}
	}
	elapsed := time.Since(start)
	if len(rtt) < *n {
		if ctx.Err() != nil {
			fmt.Fprintf(os.Stderr, "reqrep client: interrupted after %d of %d replies\n", len(rtt), *n)
			printStats(rtt, elapsed)
			return 0
		}
		fmt.Fprintf(os.Stderr, "reqrep client: %d of %d replies, then %s\n", len(rtt), *n, why(replies.Err(), "the server"))
		return 1
	}

	// Done: closing the request channel ends the session, and the server
	// then closes the reply channel.
	if err := requests.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "reqrep client:", err)
		return 1
	}
	for rec := range replies.FollowRecords(ctx) {
		reply := rec.Payload
		fmt.Fprintf(os.Stderr, "reqrep client: unexpected reply %q\n", reply)
		return 1
	}
	if err := replies.Err(); !errors.Is(err, kekbit.ErrClosed) && ctx.Err() == nil {
		fmt.Fprintln(os.Stderr, "reqrep client: the server did not close the reply channel:", err)
		return 1
	}
	printStats(rtt, elapsed)
	return 0
}

// printStats prints the round-trip figures.
func printStats(rtt []time.Duration, elapsed time.Duration) {
	if len(rtt) == 0 {
		return
	}
	slices.Sort(rtt)
	at := func(q float64) time.Duration { return rtt[min(len(rtt)-1, int(q*float64(len(rtt))))] }
	fmt.Printf("%d round trips in %v: %.0f requests/s\n", len(rtt), elapsed.Round(time.Millisecond), float64(len(rtt))/elapsed.Seconds())
	fmt.Printf("round trip: min %v  median %v  p99 %v  max %v\n", rtt[0], at(0.5), at(0.99), rtt[len(rtt)-1])
}

// removeStale removes channel id from root unless a writer still holds it
// (kekbit.RemoveAbandoned); a channel that is not there is fine.
func removeStale(root string, id uint64) error {
	if err := kekbit.RemoveAbandoned(mmap.NewVolume(root), id); err != nil && !errors.Is(err, kekbit.ErrChannelNotFound) {
		return err
	}
	return nil
}

// why says why a channel written by who ended.
func why(end error, who string) string {
	var re *kekbit.ReadError
	switch {
	case errors.Is(end, kekbit.ErrClosed):
		return who + " closed its channel"
	case errors.Is(end, kekbit.ErrWriterGone):
		return who + " is gone without closing its channel"
	case errors.As(end, &re) && re.Err == kekbit.ErrTimeout:
		return who + " has been silent for longer than its channel's timeout"
	case errors.Is(end, kekbit.ErrChannelFull):
		return who + "'s channel is full"
	case errors.Is(end, context.Canceled):
		return "interrupted"
	}
	return fmt.Sprint("error: ", end)
}

// ignoreNotFound returns nil for an error saying a channel does not exist.
func ignoreNotFound(err error) error {
	if errors.Is(err, ports.ErrChannelNotFound) {
		return nil
	}
	return err
}
