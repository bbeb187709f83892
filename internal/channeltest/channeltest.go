// Package channeltest holds what the backends' tests share: a header for a
// test channel, the records a test writer writes, and the body of a writer
// process that a test re-executes itself to run.
package channeltest

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"testing"

	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/ports"
)

// Header returns a header for channel id with the given capacity hint and
// records of up to 1000 bytes, which never times out in a test's life.
func Header(t testing.TB, id uint64, capacity uint32) domain.Header {
	t.Helper()
	h, err := header(id, capacity)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func header(id uint64, capacity uint32) (domain.Header, error) {
	return domain.NewHeader(domain.Hints{
		WriterID: uint64(os.Getpid()), ChannelID: id, Capacity: capacity, MaxMsgLen: 1000,
		Timeout: 99_999_999_999, TickUnit: domain.Nanos,
	})
}

// Record returns the payload of record i: its sequence number, then 0..63
// bytes derived from it.
func Record(i uint64) []byte {
	p := binary.LittleEndian.AppendUint64(nil, i)
	for j := range i % 64 {
		p = append(p, byte(i*31+j))
	}
	return p
}

// WriterProcess is the body of a writer process: it creates channel id in
// vol, writes records 0..n-1 (Record), waits until stdin is closed, then
// closes the channel. Killing the process instead leaves it unclosed.
func WriterProcess(vol ports.Volume, id uint64, capacity uint32, n uint64, stdin io.Reader) error {
	h, err := header(id, capacity)
	if err != nil {
		return err
	}
	w, err := domain.Create(vol, h, codecs.Raw{})
	if err != nil {
		return err
	}
	for i := range n {
		if _, err := w.Write(Record(i)); err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
	}
	if _, err := io.Copy(io.Discard, stdin); err != nil {
		return err
	}
	return w.Close()
}
