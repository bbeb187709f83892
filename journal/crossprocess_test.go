//go:build linux

package journal_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/journal"
)

// BenchmarkCrossProcess compares, across processes, a journal of
// KEKBIT_JOURNAL_SEGMENT-byte segments (default 64 MiB) with one
// pretouched channel big enough for all the records: a writer process
// writes b.N 72-byte records (with the envelope, as a journal's are) as
// fast as it can, this process follows them. It reports each side's
// records per second, end to end.
func BenchmarkCrossProcess(b *testing.B) {
	seg := 64 << 20
	if s := os.Getenv("KEKBIT_JOURNAL_SEGMENT"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		seg = n
	}
	for _, mode := range []string{"channel", "journal"} {
		b.Run(mode, func(b *testing.B) {
			dir := benchDir(b)
			vol := mmap.NewVolume(dir, mmap.WithPretouch())
			if mode == "channel" {
				h, err := domain.NewHeader(domain.Hints{Capacity: uint32(min(uint64(b.N)*104+4096, domain.MaxCapacity)), MaxMsgLen: 72, Timeout: 1 << 40, TickUnit: domain.Nanos, Envelope: domain.EnvelopeAll})
				if err != nil {
					b.Fatal(err)
				}
				w, err := domain.Create(vol, h, codecs.Raw{}) // pretouched
				if err != nil {
					b.Fatal(err)
				}
				w.Release()
			}
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "KEKBIT_JOURNAL_CHILD=bench-writer", "KEKBIT_JOURNAL_DIR="+dir,
				"KEKBIT_JOURNAL_MODE="+mode, "KEKBIT_JOURNAL_N="+strconv.Itoa(b.N), "KEKBIT_JOURNAL_SEG="+strconv.Itoa(seg))
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			b.ResetTimer()
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			var start time.Time
			n := 0
			count := func() {
				if n == 0 {
					start = time.Now()
				}
				n++
			}
			ctx := context.Background()
			var err error
			if mode == "channel" {
				var r *domain.Reader
				r, err = domain.OpenWhenReady(ctx, vol, 0, domain.WithWait(domain.Streaming))
				if err == nil {
					err = r.Follow(ctx, func(domain.Record) error { count(); return nil })
					r.Close()
				}
				if errors.Is(err, domain.ErrClosed) {
					err = nil
				}
			} else {
				var r *journal.Reader
				r, err = journal.OpenReader(vol, journal.WithWait(domain.Streaming))
				if err == nil {
					err = r.Follow(ctx, func(journal.Record) error { count(); return nil })
					r.Close()
				}
				if errors.Is(err, journal.ErrClosed) {
					err = nil
				}
			}
			readRate := float64(n) / time.Since(start).Seconds()
			if werr := cmd.Wait(); werr != nil || err != nil || n != b.N {
				b.Fatalf("read %d of %d: %v; writer: %v %s", n, b.N, err, werr, out.String())
			}
			var writeRate float64
			fmt.Sscanf(out.String(), "rate %g", &writeRate)
			b.ReportMetric(writeRate/1e6, "writer-Mrec/s")
			b.ReportMetric(readRate/1e6, "reader-Mrec/s")
		})
	}
}

// childBenchWriter writes KEKBIT_JOURNAL_N 72-byte records into the
// channel or the journal of KEKBIT_JOURNAL_DIR and prints its rate.
func childBenchWriter() int {
	dir := os.Getenv("KEKBIT_JOURNAL_DIR")
	n, _ := strconv.Atoi(os.Getenv("KEKBIT_JOURNAL_N"))
	seg, _ := strconv.Atoi(os.Getenv("KEKBIT_JOURNAL_SEG"))
	vol := mmap.NewVolume(dir)
	msg := make([]byte, 72)
	var write func() error
	var closeW func() error
	if os.Getenv("KEKBIT_JOURNAL_MODE") == "channel" {
		st, err := vol.OpenForWrite(0)
		if err != nil {
			fmt.Println(err)
			return 1
		}
		w, err := domain.Resume(st, codecs.Raw{})
		if err != nil {
			fmt.Println(err)
			return 1
		}
		write = func() error { _, err := w.Write(msg); return err }
		closeW = w.Close
	} else {
		w, err := journal.OpenWriter(vol, codecs.Raw{}, journal.WithSegmentSize(uint32(seg)))
		if err != nil {
			fmt.Println(err)
			return 1
		}
		write = func() error { _, err := w.Write(msg); return err }
		closeW = w.Close
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		if err := write(); err != nil {
			fmt.Println(err)
			return 1
		}
	}
	rate := float64(n) / time.Since(start).Seconds()
	if err := closeW(); err != nil {
		fmt.Println(err)
		return 1
	}
	fmt.Printf("rate %g\n", rate)
	return 0
}
