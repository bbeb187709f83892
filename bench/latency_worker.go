package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
)

// Latency mode: a client writes a request (its sequence number) to the
// ping channel, a server busy-spins on it and writes the same bytes back to
// the pong channel, the client busy-spins for the reply. Both channels are
// pretouched.
const (
	pingID = 2
	pongID = 3
)

// pair creates the channel this side writes and opens, once it exists,
// the one it reads, with a busy-spinning reader.
func (j job) pair(ctx context.Context, mine, theirs uint64) (*domain.Writer[[]byte], *domain.Reader, error) {
	h, err := j.header(mine)
	if err != nil {
		return nil, nil, err
	}
	vol := j.volume()
	w, err := domain.Create(vol, h, codecs.Raw{})
	if err != nil {
		return nil, nil, err
	}
	rd, err := domain.OpenWhenReady(ctx, vol, theirs, domain.WithWait(domain.BusySpin))
	if err != nil {
		w.Close()
		return nil, nil, err
	}
	return w, rd, nil
}

// serve answers every request until the ping channel closes.
func (j job) server(ctx context.Context, out io.Writer) (report, error) {
	var r report
	w, rd, err := j.pair(ctx, pongID, pingID)
	if err != nil {
		return r, err
	}
	defer w.Close()
	defer rd.Close()
	var werr error
	err = rd.Follow(ctx, func(rec domain.Record) error {
		p := rec.Payload
		if _, err := w.Write(p); err != nil && werr == nil {
			werr = err
		}
		r.Records++
		return nil
	})
	if werr != nil {
		return r, werr
	}
	if !errors.Is(err, domain.ErrClosed) {
		return r, err
	}
	return r, w.Close()
}

// client sends Warmup+N requests one at a time and times the last N round
// trips.
func (j job) client(ctx context.Context, out io.Writer) (report, error) {
	var r report
	w, rd, err := j.pair(ctx, pingID, pongID)
	if err != nil {
		return r, err
	}
	defer w.Close()
	defer rd.Close()
	buf := make([]byte, j.Size)
	r.RTT = make([]uint32, 0, j.N)
	var got uint64
	handler := func(rec domain.Record) error { p := rec.Payload; got = binary.LittleEndian.Uint64(p); return nil }
	for i := range j.Warmup + j.N {
		binary.LittleEndian.PutUint64(buf, uint64(i))
		start := time.Now()
		if _, err := w.Write(buf); err != nil {
			return r, err
		}
		for spins := 1; ; spins++ {
			n, err := rd.Read(handler, 1)
			if n > 0 && err == nil {
				break
			}
			if err != nil && err != domain.ErrNothingYet {
				return r, err
			}
			if spins&0xFFFFF == 0 && ctx.Err() != nil {
				return r, ctx.Err()
			}
		}
		rtt := time.Since(start)
		if got != uint64(i) {
			return r, fmt.Errorf("reply %d to request %d", got, i)
		}
		if i >= j.Warmup {
			r.RTT = append(r.RTT, uint32(min(rtt, time.Duration(1<<32-1))))
		}
	}
	r.Records = j.N
	return r, w.Close()
}
