package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"time"

	"github.com/kekbit-go/kekbit/inspect"
)

// statSeries is one line of the --plot figure: a value per sample.
type statSeries struct {
	name   string
	points []statPoint
}

type statPoint struct {
	t time.Duration // since the first sample
	v float64
}

// statPlot gathers the rates and lags of the snapshots of a `stat --plot`.
type statPlot struct {
	start time.Time
	rates map[string]*statSeries // records per second, by channel or journal
	lags  map[string]*statSeries // records behind, by named reader
	n     int
}

func newStatPlot() *statPlot {
	return &statPlot{rates: map[string]*statSeries{}, lags: map[string]*statSeries{}}
}

func (p *statPlot) add(s *inspect.Snapshot) {
	if p.n == 0 {
		p.start = s.Taken
	}
	p.n++
	at := s.Taken.Sub(p.start)
	put := func(m map[string]*statSeries, name string, v float64) {
		x := m[name]
		if x == nil {
			x = &statSeries{name: name}
			m[name] = x
		}
		x.points = append(x.points, statPoint{at, v})
	}
	for _, c := range s.Channels {
		if c.Journal != "" {
			continue // its journal's line says it
		}
		if p.n > 1 { // a first snapshot has no rates
			put(p.rates, fmt.Sprintf("channel %#x", c.ID), c.RecordsPerSec)
		}
	}
	for _, j := range s.Journals {
		dir, _ := filepath.Rel(s.Root, j.Dir)
		if p.n > 1 {
			put(p.rates, "journal "+dir+" "+j.ID[:8], j.RecordsPerSec)
		}
		for _, r := range j.Readers {
			if r.Err == nil {
				put(p.lags, dir+" "+j.ID[:8]+" reader "+r.Name, float64(r.LagRecords))
			}
		}
	}
}

var plotColors = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}

// write draws the figure: records per second of every channel and journal
// above, named readers' lag in records below, against time.
func (p *statPlot) write(out io.Writer, root string) error {
	w := bufio.NewWriter(out) // keeps the first write error; Flush returns it
	const width, panel, left, right, top, gap = 900.0, 260.0, 80.0, 220.0, 40.0, 60.0
	height := top + 2*panel + gap + 40
	if p.n < 2 {
		return fmt.Errorf("--plot: %d snapshot(s), at least 2 are needed for rates: a longer --for", p.n)
	}
	end := 0.0
	for _, m := range []map[string]*statSeries{p.rates, p.lags} {
		for _, s := range m {
			for _, pt := range s.points {
				end = max(end, pt.t.Seconds())
			}
		}
	}
	end = max(end, 1e-3)
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(w, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(w, `<text x="%.0f" y="20" font-size="14">kekbit stat %s: %d snapshots over %.1f s</text>`+"\n", left, xmlText(root), p.n, end)
	panels := []struct {
		title string
		m     map[string]*statSeries
	}{{"records per second", p.rates}, {"named readers' lag (records)", p.lags}}
	for i, pn := range panels {
		y0 := top + float64(i)*(panel+gap)
		names := make([]string, 0, len(pn.m))
		hi := 1.0
		for name, s := range pn.m {
			names = append(names, name)
			for _, pt := range s.points {
				hi = max(hi, pt.v)
			}
		}
		slices.Sort(names)
		hi = niceCeil(hi)
		x := func(t time.Duration) float64 { return left + (width-left-right)*t.Seconds()/end }
		y := func(v float64) float64 { return y0 + panel - panel*v/hi }
		fmt.Fprintf(w, `<text x="%.0f" y="%.0f">%s</text>`+"\n", left, y0-6, pn.title)
		for k := 0; k <= 4; k++ {
			v := hi * float64(k) / 4
			fmt.Fprintf(w, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%.0f" y="%.1f" text-anchor="end">%s</text>`+"\n",
				left, width-right, y(v), y(v), left-6, y(v)+4, rate(v))
		}
		fmt.Fprintf(w, `<text x="%.0f" y="%.0f" text-anchor="end">%.1f s</text>`+"\n", width-right, y0+panel+16, end)
		for k, name := range names {
			color := plotColors[k%len(plotColors)]
			fmt.Fprintf(w, `<polyline class="series" data-name="%s" fill="none" stroke="%s" stroke-width="2" points="`, xmlText(name), color)
			for _, pt := range pn.m[name].points {
				fmt.Fprintf(w, "%.1f,%.1f ", x(pt.t), y(pt.v))
			}
			fmt.Fprintln(w, `"/>`)
			fmt.Fprintf(w, `<text x="%.0f" y="%.0f" fill="%s">%s</text>`+"\n", width-right+10, y0+14+16*float64(k), color, xmlText(name))
		}
	}
	fmt.Fprintln(w, `</svg>`)
	return w.Flush()
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	e := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*e >= v {
			return m * e
		}
	}
	return 10 * e
}

// xmlText escapes s for SVG text and attributes.
func xmlText(s string) string {
	var b []byte
	for _, c := range []byte(s) {
		switch c {
		case '<':
			b = append(b, "&lt;"...)
		case '>':
			b = append(b, "&gt;"...)
		case '&':
			b = append(b, "&amp;"...)
		case '"':
			b = append(b, "&quot;"...)
		default:
			b = append(b, c)
		}
	}
	return string(b)
}
