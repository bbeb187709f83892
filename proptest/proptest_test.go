package proptest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/leanovate/gopter"
	"github.com/leanovate/gopter/commands"
	"github.com/leanovate/gopter/gen"

	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/ports"
)

// result is what one operation gave, in a form every backend and the model
// can be compared by.
type result struct {
	N    int      // bytes written, or bytes a read advanced
	Err  string   // the sentinel's name, "" for none
	Pos  uint64   // a reader's position after the operation
	Recs []string // records handed out, "pos:hex"
}

// sentinels name the errors a result may carry.
var sentinels = []struct {
	name string
	err  error
}{
	// MoveTo's errors first: they also wrap the read end they met.
	{"Unaligned", domain.ErrUnaligned},
	{"Unavailable", domain.ErrUnavailable},
	{"WriterClosed", domain.ErrWriterClosed},
	{"ChannelFull", domain.ErrChannelFull},
	{"RecordTooLarge", domain.ErrRecordTooLarge},
	{"NoSpace", domain.ErrNoSpace},
	{"EmptyPayload", domain.ErrEmptyPayload},
	{"NothingYet", domain.ErrNothingYet},
	{"Closed", domain.ErrClosed},
	{"Corrupt", domain.ErrCorrupt},
	{"Truncated", domain.ErrTruncated},
	{"Timeout", domain.ErrTimeout},
}

func errName(err error) string {
	if err == nil {
		return ""
	}
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			return s.name
		}
	}
	return "unexpected: " + err.Error()
}

// backend is one configuration under test: a volume and a way to read the
// channel's image back.
type backend struct {
	name  string
	vol   ports.Volume
	image func(id uint64) ([]byte, error)
	w     *domain.Writer[[]byte]
	rs    []*domain.Reader
}

// Backend makes a fresh volume in dir (a folder of its own).
type Backend struct {
	Name string
	New  func(dir string) (ports.Volume, func(id uint64) ([]byte, error))
}

// system is every backend running the same operations.
type system struct {
	dir      string
	backends []*backend
	failed   error // a failure to set the system up
}

const channelID = 0x00C0_FFEE_0000_0042

var fixedNow = time.Unix(1_800_000_000, 0)

// systems counts the cases run, and those of a channel with an envelope.
var systems struct{ all, sealed int }

func newSystem(st *model, configs []Backend) *system {
	systems.all++
	if st.env != 0 {
		systems.sealed++
	}
	dir, err := os.MkdirTemp("", "kekbit-proptest-")
	if err != nil {
		return &system{failed: err}
	}
	s := &system{dir: dir}
	for i, c := range configs {
		sub := filepath.Join(dir, strconv.Itoa(i))
		vol, image := c.New(sub)
		w, err := domain.Create(vol, st.hdr, codecs.Raw{}, domain.WithWriteClock(writeClock()))
		if err != nil {
			s.failed = fmt.Errorf("%s: create: %w", c.Name, err)
			return s
		}
		s.backends = append(s.backends, &backend{name: c.Name, vol: vol, image: image, w: w})
	}
	return s
}

func (s *system) destroy() {
	for _, b := range s.backends {
		b.w.Close()
		for _, r := range b.rs {
			r.Close()
		}
	}
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}

// each runs op on every backend and collects the results.
func (s *system) each(op func(b *backend) result) []result {
	out := make([]result, len(s.backends))
	for i, b := range s.backends {
		out[i] = op(b)
	}
	return out
}

// check compares every backend's result with the model's.
func check(s commands.State, got commands.Result) *gopter.PropResult {
	m := s.(*model)
	res := got.(outcome)
	if res.err != nil {
		return &gopter.PropResult{Status: gopter.PropError, Error: res.err}
	}
	for i, r := range res.results {
		want := m.expect[0]
		if !reflect.DeepEqual(r, want) {
			return &gopter.PropResult{Status: gopter.PropFalse, Labels: []string{
				fmt.Sprintf("%s: got %+v, model says %+v", res.names[i], r, want)}}
		}
	}
	return &gopter.PropResult{Status: gopter.PropTrue}
}

// outcome is what a command's Run returns: one result per backend, and
// for imagesCmd each backend's channel image.
type outcome struct {
	names   []string
	results []result
	images  [][]byte
	err     error
}

func (s *system) outcome(rs []result) outcome {
	o := outcome{results: rs, err: s.failed}
	for _, b := range s.backends {
		o.names = append(o.names, b.name)
	}
	return o
}

// --- commands ---------------------------------------------------------

type writeCmd struct {
	n    int
	seed byte
}

func (c writeCmd) data() []byte {
	b := make([]byte, c.n)
	for i := range b {
		b[i] = c.seed + byte(i*7)
	}
	return b
}

func (c writeCmd) Run(sut commands.SystemUnderTest) commands.Result {
	s := sut.(*system)
	return s.outcome(s.each(func(b *backend) result {
		n, err := b.w.Write(c.data())
		return result{N: n, Err: errName(err), Pos: uint64(b.w.WriteOffset())}
	}))
}

func (c writeCmd) NextState(st commands.State) commands.State {
	m := st.(*model)
	res := m.write(c.data())
	res.Pos = m.pos
	m.expect = []result{res}
	return m
}

func (writeCmd) PreCondition(commands.State) bool { return true }
func (writeCmd) PostCondition(st commands.State, r commands.Result) *gopter.PropResult {
	return check(st, r)
}
func (c writeCmd) String() string { return fmt.Sprintf("Write(%d bytes)", c.n) }

// fillCmd writes ops records of random sizes (a heartbeat for one in eight)
// in one go, so that runs reach a full channel.
type fillCmd struct {
	ops  int
	seed int64
}

// each calls f with the payload of every op of the fill (nil: heartbeat).
func (c fillCmd) each(maxMsg uint64, f func([]byte)) {
	rng := rand.New(rand.NewSource(c.seed))
	for i := range c.ops {
		if rng.Intn(8) == 0 {
			f(nil)
			continue
		}
		f(writeCmd{n: 1 + rng.Intn(int(maxMsg)), seed: byte(i)}.data())
	}
}

func (c fillCmd) Run(sut commands.SystemUnderTest) commands.Result {
	s := sut.(*system)
	return s.outcome(s.each(func(b *backend) result {
		var res result
		c.each(uint64(b.w.Header().MaxPayload()), func(p []byte) {
			var n int
			var err error
			if p == nil {
				n, err = b.w.Heartbeat()
			} else {
				n, err = b.w.Write(p)
			}
			res.Recs = append(res.Recs, fmt.Sprintf("%d %s", n, errName(err)))
		})
		return res
	}))
}

func (c fillCmd) NextState(st commands.State) commands.State {
	m := st.(*model)
	var res result
	c.each(m.maxPayload, func(p []byte) {
		r := m.heartbeat
		if p != nil {
			r = func() result { return m.write(p) }
		}
		got := r()
		res.Recs = append(res.Recs, fmt.Sprintf("%d %s", got.N, got.Err))
	})
	m.expect = []result{res}
	return m
}
func (fillCmd) PreCondition(commands.State) bool { return true }
func (fillCmd) PostCondition(st commands.State, r commands.Result) *gopter.PropResult {
	return check(st, r)
}
func (c fillCmd) String() string { return fmt.Sprintf("Fill(%d ops, seed %d)", c.ops, c.seed) }

type heartbeatCmd struct{}

func (heartbeatCmd) Run(sut commands.SystemUnderTest) commands.Result {
	s := sut.(*system)
	return s.outcome(s.each(func(b *backend) result {
		n, err := b.w.Heartbeat()
		return result{N: n, Err: errName(err), Pos: uint64(b.w.WriteOffset())}
	}))
}
func (heartbeatCmd) NextState(st commands.State) commands.State {
	m := st.(*model)
	res := m.heartbeat()
	res.Pos = m.pos
	m.expect = []result{res}
	return m
}
func (heartbeatCmd) PreCondition(commands.State) bool { return true }
func (heartbeatCmd) PostCondition(st commands.State, r commands.Result) *gopter.PropResult {
	return check(st, r)
}
func (heartbeatCmd) String() string { return "Heartbeat" }

type closeCmd struct{}

func (closeCmd) Run(sut commands.SystemUnderTest) commands.Result {
	s := sut.(*system)
	return s.outcome(s.each(func(b *backend) result {
		return result{Err: errName(b.w.Close())}
	}))
}
func (closeCmd) NextState(st commands.State) commands.State {
	m := st.(*model)
	m.expect = []result{m.close()}
	return m
}
func (closeCmd) PreCondition(commands.State) bool { return true }
func (closeCmd) PostCondition(st commands.State, r commands.Result) *gopter.PropResult {
	return check(st, r)
}
func (closeCmd) String() string { return "Close" }

// openCmd opens one more reader on every backend.
type openCmd struct{}

func (openCmd) Run(sut commands.SystemUnderTest) commands.Result {
	s := sut.(*system)
	return s.outcome(s.each(func(b *backend) result {
		r, err := domain.Open(b.vol, channelID, domain.WithClock(func() time.Time { return fixedNow }))
		if err != nil {
			return result{Err: errName(err)}
		}
		b.rs = append(b.rs, r)
		return result{Pos: r.Position()}
	}))
}
func (openCmd) NextState(st commands.State) commands.State {
	m := st.(*model)
	m.readers = append(m.readers, 0)
	m.expect = []result{{}}
	return m
}
func (openCmd) PreCondition(st commands.State) bool { return len(st.(*model).readers) < 4 }
func (openCmd) PostCondition(st commands.State, r commands.Result) *gopter.PropResult {
	return check(st, r)
}
func (openCmd) String() string { return "OpenReader" }

type readCmd struct{ reader, max int }

func (c readCmd) Run(sut commands.SystemUnderTest) commands.Result {
	s := sut.(*system)
	return s.outcome(s.each(func(b *backend) result {
		r := b.rs[c.reader]
		var res result
		sealed := r.Header().Envelope != 0
		n, err := r.Read(func(rec domain.Record) error {
			pos, p := rec.Position, rec.Payload
			if sealed {
				res.Recs = append(res.Recs, fmt.Sprintf("%d:%x seq=%d time=%d", pos, p, r.Seq(), r.Time()))
			} else {
				res.Recs = append(res.Recs, fmt.Sprintf("%d:%x", pos, p))
			}
			return nil
		}, c.max)
		res.N, res.Err, res.Pos = n, errName(err), r.Position()
		var re *domain.ReadError
		if errors.As(err, &re) && (re.Position != r.Position() || re.BytesRead != n) {
			res.Err = fmt.Sprintf("ReadError %+v does not match position %d, %d bytes", re, r.Position(), n)
		}
		return res
	}))
}
func (c readCmd) NextState(st commands.State) commands.State {
	m := st.(*model)
	m.expect = []result{m.read(c.reader, c.max)}
	return m
}
func (c readCmd) PreCondition(st commands.State) bool { return c.reader < len(st.(*model).readers) }
func (c readCmd) PostCondition(st commands.State, r commands.Result) *gopter.PropResult {
	return check(st, r)
}
func (c readCmd) String() string { return fmt.Sprintf("Read(reader %d, max %d)", c.reader, c.max) }

type moveCmd struct {
	reader int
	target uint64
}

// genMove picks a target: a record's start, the writer's end, an unaligned
// position, or any aligned one up to past the capacity.
func genMove(m *model) gopter.Gen {
	return gopter.CombineGens(gen.IntRange(0, len(m.readers)-1), gen.IntRange(0, 3), gen.UInt64()).Map(func(v []interface{}) commands.Command {
		reader, kind, pick := v[0].(int), v[1].(int), v[2].(uint64)
		var target uint64
		switch kind {
		case 0:
			target = m.records[int(pick%uint64(len(m.records)))].pos
		case 1:
			target = m.pos
		case 2:
			target = pick%(m.capacity+64) | 1
		default:
			target = (pick % (m.capacity + 64)) &^ 7
		}
		return moveCmd{reader: reader, target: target}
	})
}

func (c moveCmd) Run(sut commands.SystemUnderTest) commands.Result {
	s := sut.(*system)
	return s.outcome(s.each(func(b *backend) result {
		r := b.rs[c.reader]
		err := r.MoveTo(c.target)
		return result{Err: errName(err), Pos: r.Position()}
	}))
}

func (c moveCmd) NextState(st commands.State) commands.State {
	m := st.(*model)
	m.expect = []result{m.moveTo(c.reader, c.target)}
	return m
}
func (c moveCmd) PreCondition(st commands.State) bool { return c.reader < len(st.(*model).readers) }
func (c moveCmd) PostCondition(st commands.State, r commands.Result) *gopter.PropResult {
	return check(st, r)
}
func (c moveCmd) String() string { return fmt.Sprintf("MoveTo(reader %d, %d)", c.reader, c.target) }

// imagesCmd compares the channel images of all backends byte for byte,
// with each other and with the image the model computes (header,
// extension block, records with their envelopes, marks, close trailer).
type imagesCmd struct{}

func (imagesCmd) Run(sut commands.SystemUnderTest) commands.Result {
	s := sut.(*system)
	var first []byte
	var images [][]byte
	o := s.outcome(s.each(func(b *backend) result {
		img, err := b.image(channelID)
		images = append(images, img)
		switch {
		case err != nil:
			return result{Err: "image: " + err.Error()}
		case first == nil:
			first = img
		case !bytes.Equal(img, first):
			return result{Err: fmt.Sprintf("image differs from %s's at byte %d", s.backends[0].name, firstDiff(img, first))}
		}
		return result{}
	}))
	o.images = images
	return o
}
func (imagesCmd) NextState(st commands.State) commands.State {
	m := st.(*model)
	m.expect = []result{{}}
	return m
}
func (imagesCmd) PreCondition(commands.State) bool { return true }
func (imagesCmd) PostCondition(st commands.State, r commands.Result) *gopter.PropResult {
	if res := check(st, r); res.Status != gopter.PropTrue {
		return res
	}
	want := st.(*model).image()
	o := r.(outcome)
	for i, img := range o.images {
		if !bytes.Equal(img, want) {
			at := firstDiff(img, want)
			return &gopter.PropResult{Status: gopter.PropFalse, Labels: []string{
				fmt.Sprintf("%s: image differs from the model's at byte %d (of %d): % x, the model has % x", o.names[i], at, len(want),
					img[at:min(at+16, len(img))], want[at:min(at+16, len(want))])}}
		}
	}
	return &gopter.PropResult{Status: gopter.PropTrue}
}
func (imagesCmd) String() string { return "CompareImages" }

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// genCommand weighs the operations: mostly writes and reads, so channels
// fill up within a run.
func genCommand(st commands.State) gopter.Gen {
	m := st.(*model)
	gens := map[int]gopter.Gen{
		30: gopter.CombineGens(gen.IntRange(0, int(m.maxMsg)+16), gen.UInt8()).Map(func(v []interface{}) commands.Command {
			return writeCmd{n: v[0].(int), seed: v[1].(uint8)}
		}),
		3: gen.IntRange(-10, 10).Map(func(n int) commands.Command { // empty writes
			return writeCmd{n: max(n, 0)}
		}),
		8: gen.Const(heartbeatCmd{}),
		4: gopter.CombineGens(gen.IntRange(1, 400), gen.Int64()).Map(func(v []interface{}) commands.Command {
			return fillCmd{ops: v[0].(int), seed: v[1].(int64)}
		}),
		1: gen.Const(closeCmd{}),
		2: gen.Const(imagesCmd{}),
	}
	if len(m.readers) < 4 {
		gens[3] = gen.Const(openCmd{})
	}
	if len(m.readers) > 0 {
		gens[20] = gopter.CombineGens(gen.IntRange(0, len(m.readers)-1), gen.IntRange(-1, 12)).Map(func(v []interface{}) commands.Command {
			return readCmd{reader: v[0].(int), max: v[1].(int)}
		})
		gens[6] = genMove(m)
	}
	return gen.Frequency(gens)
}

// genInitial draws header hints: the capacity, the max record length and,
// for about half the cases, an envelope (any of the seven choices of
// fields), a sequence base (0, small, or any, wrapping around included)
// and a tick unit for its times; the others are plain channels in
// seconds, as before.
func genInitial() gopter.Gen {
	return gopter.CombineGens(gen.UInt32Range(0, 40_000), gen.UInt32Range(0, 400),
		gen.IntRange(-7, 7), gen.OneGenOf(gen.Const(uint64(0)), gen.UInt64Range(1, 1000), gen.UInt64()),
		gen.OneConstOf(domain.Secs, domain.Millis, domain.Micros, domain.Nanos)).Map(func(v []interface{}) *model {
		env, seqBase, tick := domain.Envelope(max(v[2].(int), 0)), v[3].(uint64), v[4].(domain.TickUnit)
		if env == 0 {
			seqBase, tick = 0, domain.Secs
		}
		h, err := domain.NewHeader(domain.Hints{
			WriterID: 1, ChannelID: channelID,
			Capacity: v[0].(uint32), MaxMsgLen: v[1].(uint32),
			Timeout: 1, TickUnit: tick,
			Clock:    func() time.Time { return fixedNow },
			Envelope: env, SeqBase: seqBase,
		})
		if err != nil {
			panic(err)
		}
		return newModel(h)
	})
}

// parameters returns the seed and gopter's parameters of a property run:
// minTests cases of at most maxSize steps, the seed from
// KEKBIT_PROPTEST_SEED (else the clock) and the number of cases from
// KEKBIT_PROPTEST_N if set.
func parameters(t *testing.T, minTests, maxSize int) (int64, *gopter.TestParameters) {
	t.Helper()
	seed := time.Now().UnixNano()
	if s := os.Getenv("KEKBIT_PROPTEST_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseInt(s, 10, 64); err != nil {
			t.Fatalf("KEKBIT_PROPTEST_SEED: %v", err)
		}
	}
	params := gopter.DefaultTestParametersWithSeed(seed)
	params.MinSuccessfulTests = minTests
	params.MaxSize = maxSize
	if s := os.Getenv("KEKBIT_PROPTEST_N"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("KEKBIT_PROPTEST_N: %v", err)
		}
		params.MinSuccessfulTests = n
	}
	return seed, params
}

// Run runs the property on the given backends.
func Run(t *testing.T, configs []Backend) {
	seed, params := parameters(t, 100, 250)
	cmds := &commands.ProtoCommands{
		NewSystemUnderTestFunc: func(st commands.State) commands.SystemUnderTest {
			return newSystem(st.(*model), configs)
		},
		DestroySystemUnderTestFunc: func(sut commands.SystemUnderTest) { sut.(*system).destroy() },
		InitialStateGen:            genInitial(),
		GenCommandFunc:             genCommand,
	}
	props := gopter.NewProperties(params)
	props.Property("every backend agrees with the model", commands.Prop(cmds))
	start := time.Now()
	if !props.Run(gopter.ConsoleReporter(false)) {
		t.Errorf("property failed; repeat with KEKBIT_PROPTEST_SEED=%d", seed)
	}
	t.Logf("%d cases with seed %d in %v; %d systems built, %d of them of a channel with an envelope",
		params.MinSuccessfulTests, seed, time.Since(start).Round(time.Millisecond), systems.all, systems.sealed)
	if systems.sealed == 0 || systems.sealed == systems.all {
		t.Errorf("%d of %d systems with an envelope: the cases do not cover both kinds", systems.sealed, systems.all)
	}
}
