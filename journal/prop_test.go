package journal_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/leanovate/gopter"
	"github.com/leanovate/gopter/gen"
	"github.com/leanovate/gopter/prop"
	"github.com/spf13/afero"

	"github.com/kekbit-go/kekbit/adapters/file"
	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/journal"
	"github.com/kekbit-go/kekbit/journal/positions"
	"github.com/kekbit-go/kekbit/ports"
)

// The property test: random runs of writes (rolling over 16 KiB
// segments), named readers reading, committing, seeking and restarting,
// the writer crashing (Release) or closing and opening again, and
// retention, checked against a model of the journal: the records in
// order, each reader's position and its committed one. Each run is checked
// on every backend with the positions adapter that goes with it.

// op is one step of a run.
type op struct {
	Kind int // see the switch in apply
	A, B int
}

func (o op) String() string {
	return fmt.Sprintf("%s(%d,%d)", []string{"write", "read", "commit", "restart-reader", "crash-writer", "reopen-writer", "seek", "prune", "write-many"}[o.Kind], o.A, o.B)
}

const propReaders = 2

// jmodel is what the journal should hold and where each reader stands.
type jmodel struct {
	records   [][]byte
	pos       [propReaders]int // the live reader's next sequence number
	committed [propReaders]int
}

// propSystem is one backend under test.
type propSystem struct {
	vol     ports.Volume
	pos     journal.Positions
	w       *journal.Writer[[]byte]
	readers [propReaders]*journal.Reader
}

type propBackend struct {
	name string
	make func(dir string) (ports.Volume, journal.Positions)
}

func propBackends() []propBackend {
	bs := []propBackend{
		{"memory", func(string) (ports.Volume, journal.Positions) {
			return memory.NewVolume(), positions.NewMemory()
		}},
		{"file on MemMapFs", func(dir string) (ports.Volume, journal.Positions) {
			fs := afero.NewMemMapFs()
			return file.NewVolume(fs, dir), positions.NewFiles(fs, filepath.Join(dir, "readers"))
		}},
		{"file on OsFs", func(dir string) (ports.Volume, journal.Positions) {
			fs := afero.NewOsFs()
			return file.NewVolume(fs, dir), positions.NewFiles(fs, filepath.Join(dir, "readers"))
		}},
	}
	if runtime.GOOS == "linux" {
		bs = append(bs, propBackend{"mmap", func(dir string) (ports.Volume, journal.Positions) {
			return mmap.NewVolume(dir), positions.NewMapped(filepath.Join(dir, "readers"))
		}})
	}
	return bs
}

func propPayload(n, seed int) []byte {
	b := make([]byte, 1+n%90)
	for i := range b {
		b[i] = byte(seed + 13*i)
	}
	return b
}

func (s *propSystem) openWriter() error {
	var err error
	s.w, err = journal.OpenWriter(s.vol, codecs.Raw{}, journal.WithSegmentSize(16384), journal.WithPositions(s.pos), journal.WithPrepareAt(0.3))
	return err
}

func (s *propSystem) openReader(i int) error {
	var err error
	s.readers[i], err = journal.OpenReader(s.vol, journal.WithName(s.pos, "r"+strconv.Itoa(i)))
	return err
}

func (s *propSystem) close() {
	if s.w != nil {
		s.w.Close()
	}
	for _, r := range s.readers {
		if r != nil {
			r.Close()
		}
	}
}

// apply runs o on s and the model, and returns what differs.
func apply(s *propSystem, m *jmodel, o op) error {
	i := o.A % propReaders
	r := s.readers[i]
	switch o.Kind {
	case 0, 8: // write one, or many (rolls)
		n := 1
		if o.Kind == 8 {
			n = 50 + o.B%400
		}
		for k := 0; k < n; k++ {
			p := propPayload(o.A+k, o.B+k)
			pos, err := s.w.Write(p)
			if err != nil {
				return fmt.Errorf("write: %w", err)
			}
			if pos.Segment() != s.w.Segment() {
				return fmt.Errorf("write: position %v, writer in segment %d", pos, s.w.Segment())
			}
			m.records = append(m.records, p)
		}
	case 1: // read
		k := 1 + o.B%60
		got := 0
		_, err := r.Read(func(rec journal.Record) error {
			want := m.pos[i] + got
			if rec.Seq != uint64(want) || !bytes.Equal(rec.Payload, m.records[want]) {
				return fmt.Errorf("reader %d: record seq %d (%d bytes), want seq %d (%d bytes)", i, rec.Seq, len(rec.Payload), want, len(m.records[want]))
			}
			got++
			return nil
		}, k)
		wantN := min(k, len(m.records)-m.pos[i])
		if got != wantN {
			return fmt.Errorf("reader %d read %d (%v), want %d", i, got, err, wantN)
		}
		if (err == nil) != (got == k) || err != nil && err != journal.ErrNothingYet {
			return fmt.Errorf("reader %d: read ended with %v after %d of %d", i, err, got, k)
		}
		m.pos[i] += got
		lag, err := r.Lag()
		if err != nil || lag.Records != uint64(len(m.records)-m.pos[i]) {
			return fmt.Errorf("reader %d: lag %+v, %v; want %d records", i, lag, err, len(m.records)-m.pos[i])
		}
	case 2: // commit
		if err := r.Commit(); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		if len(m.records) > 0 {
			m.committed[i] = m.pos[i]
		}
	case 3: // restart reader
		r.Close()
		if err := s.openReader(i); err != nil {
			return fmt.Errorf("restart reader %d: %w", i, err)
		}
		m.pos[i] = m.committed[i]
	case 4, 5: // writer crashes (Release) or closes, and opens again
		if o.Kind == 4 {
			s.w.Release()
		} else {
			s.w.Close()
		}
		if err := s.openWriter(); err != nil {
			return fmt.Errorf("reopen writer: %w", err)
		}
		if s.w.NextSeq() != uint64(len(m.records)) {
			return fmt.Errorf("reopened writer at seq %d, want %d", s.w.NextSeq(), len(m.records))
		}
	case 6: // seek forward of the committed position
		if len(m.records) == 0 {
			return nil
		}
		span := len(m.records) - m.committed[i] + 1
		seq := m.committed[i] + o.B%span
		if err := r.SeekSeq(uint64(seq)); err != nil {
			return fmt.Errorf("reader %d: SeekSeq(%d) of %d: %w", i, seq, len(m.records), err)
		}
		m.pos[i] = seq
	case 7: // retention
		if _, err := journal.Prune(s.vol, s.pos, journal.Retention{MaxSegments: 1 + o.B%3}); err != nil {
			return fmt.Errorf("prune: %w", err)
		}
		ids, err := s.vol.List()
		if err != nil || len(ids) == 0 {
			return fmt.Errorf("after prune: %v %v", ids, err)
		}
		st, err := s.vol.Open(ids[0])
		if err != nil {
			return err
		}
		rd, err := journal.OpenReader(s.vol)
		st.Close()
		if err != nil {
			return err
		}
		var first uint64 = uint64(len(m.records))
		rd.Read(func(rec journal.Record) error { first = rec.Seq; return errors.New("one") }, 1)
		rd.Close()
		for k := range m.committed {
			if uint64(m.committed[k]) < first {
				return fmt.Errorf("prune dropped seq %d..%d, which reader %d (committed at %d) needs", 0, first-1, k, m.committed[k])
			}
		}
	}
	return nil
}

func genOp() gopter.Gen {
	return gopter.CombineGens(gen.Weighted([]gen.WeightedGen{
		{Weight: 6, Gen: gen.Const(0)}, {Weight: 2, Gen: gen.Const(8)},
		{Weight: 5, Gen: gen.Const(1)}, {Weight: 3, Gen: gen.Const(2)}, {Weight: 2, Gen: gen.Const(3)},
		{Weight: 1, Gen: gen.Const(4)}, {Weight: 1, Gen: gen.Const(5)}, {Weight: 2, Gen: gen.Const(6)},
		{Weight: 2, Gen: gen.Const(7)},
	}), gen.IntRange(0, 1000), gen.IntRange(0, 1000)).Map(func(v []any) op {
		return op{Kind: v[0].(int), A: v[1].(int), B: v[2].(int)}
	})
}

func TestPropertyJournalModel(t *testing.T) {
	seed := time.Now().UnixNano()
	if s := os.Getenv("KEKBIT_PROPTEST_SEED"); s != "" {
		seed, _ = strconv.ParseInt(s, 10, 64)
	}
	params := gopter.DefaultTestParametersWithSeed(seed)
	params.MinSuccessfulTests = 40
	params.MaxSize = 80
	if testing.Short() {
		params.MinSuccessfulTests = 10
	}
	props := gopter.NewProperties(params)
	for _, b := range propBackends() {
		props.Property("journal on "+b.name+" agrees with the model", prop.ForAll(func(ops []op) string {
			dir, err := os.MkdirTemp(shmOrTemp(), "kekbit-journal-prop-")
			if err != nil {
				return err.Error()
			}
			defer os.RemoveAll(dir)
			vol, pos := b.make(dir)
			s := &propSystem{vol: vol, pos: pos}
			defer s.close()
			if err := s.openWriter(); err != nil {
				return err.Error()
			}
			for i := range s.readers {
				if err := s.openReader(i); err != nil {
					return err.Error()
				}
			}
			m := &jmodel{}
			for k, o := range ops {
				if err := apply(s, m, o); err != nil {
					return fmt.Sprintf("step %d %v: %v (steps %v)", k, o, err, ops[:k+1])
				}
			}
			return ""
		}, gen.SliceOf(genOp())))
	}
	if !props.Run(gopter.ConsoleReporter(false)) {
		t.Fatalf("property failed; seed %d (KEKBIT_PROPTEST_SEED)", seed)
	}
}

func shmOrTemp() string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		return "/dev/shm"
	}
	return os.TempDir()
}
