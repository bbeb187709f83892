package kekbitprom_test

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/journal"
	"github.com/kekbit-go/kekbit/journal/positions"
	"github.com/kekbit-go/kekbit/kekbitprom"
)

// scrape GETs url and parses the text exposition format.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// value returns the value of the metric of family name whose labels
// include want, and whether there is one.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		}
	}
	return 0, false
}

// TestScrape: a channel's writer and a journal's writer with two named
// readers, one behind; /metrics served on loopback, scraped over HTTP and
// parsed, says what was written and read, and follows more writing.
func TestScrape(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	vol := mmap.NewVolume(root)
	h, err := domain.NewHeader(domain.Hints{ChannelID: 7, Capacity: 1 << 18, MaxMsgLen: 128, Timeout: 60, TickUnit: domain.Nanos, Envelope: domain.EnvelopeAll})
	if err != nil {
		t.Fatal(err)
	}
	w, err := domain.Create(vol, h, codecs.Raw{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for range 500 {
		w.Write(make([]byte, 40))
	}

	dir := filepath.Join(root, "orders")
	jvol := mmap.NewVolume(dir)
	store := positions.NewMapped(filepath.Join(dir, "readers"))
	jw, err := journal.OpenWriter(jvol, codecs.Raw{}, journal.WithSegmentSize(1<<15), journal.WithPositions(store))
	if err != nil {
		t.Fatal(err)
	}
	defer jw.Close()
	for range 800 {
		if _, err := jw.Write(make([]byte, 90)); err != nil {
			t.Fatal(err)
		}
	}
	for name, n := range map[string]int{"fast": 800, "slow": 300} {
		r, err := journal.OpenReader(jvol, journal.WithName(store, name))
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := r.Read(func(journal.Record) error { return nil }, n); got != n {
			t.Fatalf("%s read %d", name, got)
		}
		r.Commit()
		r.Close()
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(kekbitprom.NewCollector(root))
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	fams := scrape(t, srv.URL)
	ch := map[string]string{"root": root, "channel": "7"}
	for name, want := range map[string]float64{
		"kekbit_channel_records_total":       500,
		"kekbit_channel_written_bytes_total": float64(w.WriteOffset()),
		"kekbit_channel_capacity_bytes":      1 << 18,
		"kekbit_channel_writer_alive":        1,
	} {
		if got, ok := value(fams, name, ch); !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, want)
		}
	}
	if got, _ := value(fams, "kekbit_channel_state", map[string]string{"channel": "7", "state": "live"}); got != 1 {
		t.Errorf("channel 7 is not live in the metrics")
	}
	jl := map[string]string{"journal": "orders", "journal_id": jw.JournalID().String()}
	if got, _ := value(fams, "kekbit_journal_records_total", jl); got != 800 {
		t.Errorf("journal records %v, want 800", got)
	}
	lag := func(reader string) float64 {
		l := map[string]string{"journal": "orders", "reader": reader}
		v, ok := value(fams, "kekbit_journal_reader_lag_records", l)
		if !ok {
			t.Fatalf("no lag for reader %s", reader)
		}
		return v
	}
	if f, s := lag("fast"), lag("slow"); f != 0 || s != 500 {
		t.Errorf("lag: fast %v, slow %v; want 0 and 500", f, s)
	}

	// More writing shows in the next scrape.
	for range 100 {
		w.Write(make([]byte, 40))
		jw.Write(make([]byte, 90))
	}
	fams = scrape(t, srv.URL)
	if got, _ := value(fams, "kekbit_channel_records_total", ch); got != 600 {
		t.Errorf("after 100 more: %v records", got)
	}
	if f, s := lag("fast"), lag("slow"); f != 100 || s != 600 {
		t.Errorf("after 100 more: lag fast %v, slow %v; want 100 and 600", f, s)
	}
}
