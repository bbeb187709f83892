package jetstream_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/replicate/jetstream"
)

// Replicate a channel into JetStream and mirror it back into another
// folder, as another machine would. The NATS server here is embedded; in
// production it is a JetStream cluster (see README.md).
func Example() {
	dir, _ := os.MkdirTemp("", "kekbit-example-")
	defer os.RemoveAll(dir)
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir + "/nats", NoLog: true, NoSigs: true})
	if err != nil {
		panic(err)
	}
	go ns.Start()
	ns.ReadyForConnections(10 * time.Second)
	defer ns.Shutdown()

	// The source channel, 42, written and closed.
	h, _ := domain.NewHeader(domain.Hints{ChannelID: 42, Capacity: 1 << 16, MaxMsgLen: 100, Timeout: 1000, TickUnit: domain.Millis})
	w, err := domain.Create(mmap.NewVolume(dir+"/here"), h, codecs.Text{})
	if err != nil {
		panic(err)
	}
	for _, s := range []string{"one", "two", "three"} {
		w.Write(s)
	}
	w.Close()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := jetstream.Replicate(ctx, jetstream.ReplicateConfig{Volume: mmap.NewVolume(dir + "/here"), ChannelID: 42, URL: ns.ClientURL()}); err != nil {
		panic(err)
	}
	if err := jetstream.Mirror(ctx, jetstream.MirrorConfig{Volume: mmap.NewVolume(dir + "/there"), Stream: jetstream.StreamName(42), URL: ns.ClientURL()}); err != nil {
		panic(err)
	}

	// The mirror is an ordinary channel.
	r, err := domain.Open(mmap.NewVolume(dir+"/there"), 42)
	if err != nil {
		panic(err)
	}
	defer r.Close()
	_, end := r.Read(func(rec domain.Record) error {
		pos, p := rec.Position, rec.Payload
		fmt.Println(pos, string(p))
		return nil
	}, 0)
	fmt.Println(end)
	// Output:
	// 8 one
	// 24 two
	// 40 three
	// kekbit: channel closed by its writer at position 56 (after 56 bytes read)
}
