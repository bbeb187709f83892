// Package kekbitprom exports what package inspect sees under a root as
// Prometheus metrics: a program registers a Collector for the root, and
// every scrape takes a fresh snapshot (headers and progress marks only;
// see package inspect for what that costs). It is a package of its own so
// that only programs that import it depend on the Prometheus client.
//
//	prometheus.MustRegister(kekbitprom.NewCollector("/dev/shm/kekbit-1000"))
//	http.Handle("/metrics", promhttp.Handler())
//
// # Metrics
//
// Every metric has the label root (the root given to NewCollector).
// Channel metrics add channel (the id in decimal); journal metrics add
// journal (its folder relative to the root, "." for the root itself) and
// journal_id (hex); reader metrics add reader (the name).
//
//	kekbit_channel_capacity_bytes          gauge    bytes of the data region
//	kekbit_channel_written_bytes_total     counter  the write position
//	kekbit_channel_records_total           counter  records written
//	kekbit_channel_fill_ratio              gauge    written / capacity, 0..1
//	kekbit_channel_writer_alive            gauge    1 alive, 0 gone; absent when nobody can tell (a crate channel)
//	kekbit_channel_state                   gauge    1 for the channel's state (label state: live, closed, full, abandoned, unknown, creating, abandoned-create, corrupt, truncated, invalid)
//	kekbit_journal_segments                gauge    segments there
//	kekbit_journal_records_total           counter  the next sequence number
//	kekbit_journal_written_bytes           gauge    bytes taken in the segments there (retention lowers it)
//	kekbit_journal_reader_lag_records      gauge    records written after the reader's committed position
//	kekbit_journal_reader_lag_bytes        gauge    bytes between it and the write position
//	kekbit_inspect_errors                  gauge    named readers of the journal whose position could not be placed
//	kekbit_inspect_up                      gauge    1 if the root could be inspected (no root label but the constant one)
//
// A channel's counters start again from 0 when it is made again under the
// same id, as Prometheus expects of a counter whose process restarted.
// The names and labels are stable: they only grow.
package kekbitprom

import (
	"path/filepath"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/inspect"
)

// States are the values of the state label of kekbit_channel_state.
var States = []string{"live", "closed", "full", "abandoned", "unknown", "creating", "abandoned-create", "corrupt", "truncated", "invalid"}

// Collector is a prometheus.Collector of the channels and journals under
// one root.
type Collector struct {
	root string
	opts []mmap.VolumeOption

	capacity, written, records, fill, alive, state     *prometheus.Desc
	segments, jrecords, jwritten, lagRecords, lagBytes *prometheus.Desc
	errors, up                                         *prometheus.Desc
}

// NewCollector returns a Collector of the root (opts as for
// mmap.NewVolume).
func NewCollector(root string, opts ...mmap.VolumeOption) *Collector {
	constant := prometheus.Labels{"root": root}
	ch := []string{"channel"}
	jl := []string{"journal", "journal_id"}
	rl := []string{"journal", "journal_id", "reader"}
	d := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, constant)
	}
	return &Collector{
		root: root, opts: opts,
		capacity:   d("kekbit_channel_capacity_bytes", "Bytes of the channel's data region.", ch),
		written:    d("kekbit_channel_written_bytes_total", "The channel's write position: bytes of its data region taken.", ch),
		records:    d("kekbit_channel_records_total", "Records written to the channel.", ch),
		fill:       d("kekbit_channel_fill_ratio", "Share of the channel's data region taken, 0 to 1.", ch),
		alive:      d("kekbit_channel_writer_alive", "1 while the channel's writer lives, 0 once it is gone.", ch),
		state:      d("kekbit_channel_state", "1 for the channel's state.", []string{"channel", "state"}),
		segments:   d("kekbit_journal_segments", "Segments of the journal there.", jl),
		jrecords:   d("kekbit_journal_records_total", "Records written to the journal: its next sequence number.", jl),
		jwritten:   d("kekbit_journal_written_bytes", "Bytes taken in the journal's segments that are there.", jl),
		lagRecords: d("kekbit_journal_reader_lag_records", "Records written after the named reader's committed position.", rl),
		lagBytes:   d("kekbit_journal_reader_lag_bytes", "Bytes between the named reader's committed position and the write position.", rl),
		errors:     d("kekbit_inspect_errors", "Named readers whose position could not be placed.", jl),
		up:         d("kekbit_inspect_up", "1 if the root could be inspected.", nil),
	}
}

// Describe sends the descriptions of every metric.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.capacity, c.written, c.records, c.fill, c.alive, c.state,
		c.segments, c.jrecords, c.jwritten, c.lagRecords, c.lagBytes, c.errors, c.up} {
		ch <- d
	}
}

// Collect takes a snapshot of the root and sends its metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s, err := inspect.Inspect(c.root, c.opts...)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	for _, x := range s.Channels {
		if filepath.Dir(filepath.Dir(x.Path)) != filepath.Clean(c.root) {
			continue // a journal's segment in a subfolder: its journal's metrics say it
		}
		id := strconv.FormatUint(x.ID, 10)
		for _, st := range States {
			v := 0.0
			if st == x.State {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, v, id, st)
		}
		if x.Capacity == 0 {
			continue // nothing read
		}
		ch <- prometheus.MustNewConstMetric(c.capacity, prometheus.GaugeValue, float64(x.Capacity), id)
		ch <- prometheus.MustNewConstMetric(c.written, prometheus.CounterValue, float64(x.Written), id)
		ch <- prometheus.MustNewConstMetric(c.records, prometheus.CounterValue, float64(x.Records), id)
		ch <- prometheus.MustNewConstMetric(c.fill, prometheus.GaugeValue, x.Fill(), id)
		switch x.Writer {
		case "alive":
			ch <- prometheus.MustNewConstMetric(c.alive, prometheus.GaugeValue, 1, id)
		case "gone":
			ch <- prometheus.MustNewConstMetric(c.alive, prometheus.GaugeValue, 0, id)
		}
	}
	for _, j := range s.Journals {
		rel, err := filepath.Rel(c.root, j.Dir)
		if err != nil {
			rel = j.Dir
		}
		ch <- prometheus.MustNewConstMetric(c.segments, prometheus.GaugeValue, float64(len(j.Segments)), rel, j.ID)
		ch <- prometheus.MustNewConstMetric(c.jrecords, prometheus.CounterValue, float64(j.NextSeq), rel, j.ID)
		ch <- prometheus.MustNewConstMetric(c.jwritten, prometheus.GaugeValue, float64(j.Written), rel, j.ID)
		bad := 0
		for _, r := range j.Readers {
			if r.Err != nil {
				bad++
				continue
			}
			ch <- prometheus.MustNewConstMetric(c.lagRecords, prometheus.GaugeValue, float64(r.LagRecords), rel, j.ID, r.Name)
			ch <- prometheus.MustNewConstMetric(c.lagBytes, prometheus.GaugeValue, float64(r.LagBytes), rel, j.ID, r.Name)
		}
		ch <- prometheus.MustNewConstMetric(c.errors, prometheus.GaugeValue, float64(bad), rel, j.ID)
	}
}
