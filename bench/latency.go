package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"time"
)

// LatencyOptions say what latency mode measures.
type LatencyOptions struct {
	N      int    // timed round trips (at least 1,000,000 for the published figures)
	Warmup int    // round trips before timing starts
	Size   int    // request and reply bytes, at least 8
	Root   string // folder for the two channels; a fresh subfolder is used and removed
}

// LatencyReport holds the round-trip times, sorted.
type LatencyReport struct {
	Options LatencyOptions
	RTT     []time.Duration // sorted
}

// Percentile returns the round-trip time below which fraction p (0..1) of
// the round trips fall.
func (r LatencyReport) Percentile(p float64) time.Duration {
	if len(r.RTT) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(r.RTT)))) - 1
	return r.RTT[min(max(i, 0), len(r.RTT)-1)]
}

// Max returns the longest round trip.
func (r LatencyReport) Max() time.Duration { return r.Percentile(1) }

// MarshalJSON prints the percentiles in nanoseconds.
func (r LatencyReport) MarshalJSON() ([]byte, error) {
	return fmt.Appendf(nil, `{"n":%d,"size":%d,"p50_ns":%d,"p90_ns":%d,"p99_ns":%d,"p999_ns":%d,"max_ns":%d}`,
		len(r.RTT), r.Options.Size, r.Percentile(.5).Nanoseconds(), r.Percentile(.9).Nanoseconds(),
		r.Percentile(.99).Nanoseconds(), r.Percentile(.999).Nanoseconds(), r.Max().Nanoseconds()), nil
}

// WriteText prints the percentiles for people.
func (r LatencyReport) WriteText(w io.Writer) {
	fmt.Fprintf(w, "%d round trips of %d bytes between two processes (busy-spinning readers)\n", len(r.RTT), r.Options.Size)
	for _, p := range []struct {
		name string
		q    float64
	}{{"p50", .5}, {"p90", .9}, {"p99", .99}, {"p99.9", .999}, {"max", 1}} {
		fmt.Fprintf(w, "  %-6s %v\n", p.name, r.Percentile(p.q))
	}
}

// Latency measures request/reply round trips between a client process and
// a server process through two pretouched channels.
func Latency(ctx context.Context, o LatencyOptions) (LatencyReport, error) {
	switch {
	case o.N < 1 || o.Warmup < 0:
		return LatencyReport{}, fmt.Errorf("bench: %d round trips after %d warm-up: want at least 1 after at least 0", o.N, o.Warmup)
	case o.Size < 8:
		return LatencyReport{}, fmt.Errorf("bench: size = %d: want at least 8 bytes", o.Size)
	case o.Root == "":
		return LatencyReport{}, fmt.Errorf("bench: no root folder")
	}
	capacity, err := capacityFor(o.N+o.Warmup, o.Size)
	if err != nil {
		return LatencyReport{}, err
	}
	dir, cleanup, err := dirFor(o.Root)
	if err != nil {
		return LatencyReport{}, err
	}
	defer cleanup()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	j := job{Dir: dir, N: o.N, Warmup: o.Warmup, Size: o.Size, Capacity: capacity, Warm: true}
	j.Role = "server"
	srv, err := start(ctx, j)
	if err != nil {
		return LatencyReport{}, err
	}
	defer srv.kill()
	j.Role = "client"
	cli, err := start(ctx, j)
	if err != nil {
		return LatencyReport{}, err
	}
	defer cli.kill()
	crep, err := cli.finish()
	if err != nil {
		return LatencyReport{}, fmt.Errorf("bench: client: %w", err)
	}
	if _, err := srv.finish(); err != nil {
		return LatencyReport{}, fmt.Errorf("bench: server: %w", err)
	}
	rtt := make([]time.Duration, len(crep.RTT))
	for i, v := range crep.RTT {
		rtt[i] = time.Duration(v)
	}
	slices.Sort(rtt)
	return LatencyReport{Options: o, RTT: rtt}, nil
}

// WriteSVG plots the distribution: round-trip time (log scale) against
// percentile, spread as 1/(1-p) on a log scale so the tail shows.
func (r LatencyReport) WriteSVG(w io.Writer) error {
	const width, height, left, bottom, top, right = 800.0, 450.0, 70.0, 50.0, 50.0, 30.0
	n := len(r.RTT)
	if n == 0 {
		return fmt.Errorf("bench: no round trips to plot")
	}
	maxX := math.Log10(float64(n)) // p = 1 - 1/n at the right edge
	lo := math.Floor(math.Log10(float64(max(r.RTT[0].Nanoseconds(), 1))))
	hi := math.Ceil(math.Log10(float64(max(r.Max().Nanoseconds(), 10))))
	if hi <= lo {
		hi = lo + 1
	}
	x := func(p float64) float64 { return left + (width-left-right)*math.Log10(1/(1-p))/maxX }
	y := func(ns float64) float64 {
		return height - bottom - (height-bottom-top)*(math.Log10(max(ns, 1))-lo)/(hi-lo)
	}
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(w, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(w, `<text x="%.0f" y="16" font-size="14">kekbit round trip between two processes: %d samples, %d-byte messages</text>`+"\n", left, n, r.Options.Size)
	fmt.Fprintf(w, `<text x="%.0f" y="33">p50 %v, p90 %v, p99 %v, p99.9 %v, max %v</text>`+"\n",
		left, r.Percentile(.5), r.Percentile(.9), r.Percentile(.99), r.Percentile(.999), r.Max())
	for e := lo; e <= hi; e++ {
		yy := y(math.Pow(10, e))
		fmt.Fprintf(w, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%.0f" y="%.1f" text-anchor="end">%v</text>`+"\n",
			left, width-right, yy, yy, left-6, yy+4, time.Duration(math.Pow(10, e)))
	}
	for i, label := range []string{"0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%"} {
		if float64(i) > maxX {
			break
		}
		xx := left + (width-left-right)*float64(i)/maxX // p = 1 - 10^-i
		fmt.Fprintf(w, `<line x1="%.1f" x2="%.1f" y1="%.0f" y2="%.0f" stroke="#ddd"/><text x="%.1f" y="%.0f" text-anchor="middle">%s</text>`+"\n",
			xx, xx, top, height-bottom, xx, height-bottom+16, label)
	}
	fmt.Fprintf(w, `<text x="%.0f" y="%.0f" text-anchor="middle">percentile</text>`+"\n", (width+left)/2, height-12)
	fmt.Fprint(w, `<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="`)
	steps := 400
	for s := 0; s <= steps; s++ {
		p := 1 - math.Pow(10, -maxX*float64(s)/float64(steps))
		fmt.Fprintf(w, "%.1f,%.1f ", x(p), y(float64(r.Percentile(p).Nanoseconds())))
	}
	fmt.Fprintln(w, `"/>`)
	_, err := fmt.Fprintln(w, `</svg>`)
	return err
}
