package main_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// envLine is a line of `dump --json` on an enveloped channel.
type envLine struct {
	Pos   uint64  `json:"pos"`
	Len   int     `json:"len"`
	Seq   *uint64 `json:"seq"`
	Time  *uint64 `json:"time"`
	Data  []byte  `json:"data"`
	End   string  `json:"end"`
	Check string  `json:"check"`
	Want  *uint64 `json:"want"`
	Got   *uint64 `json:"got"`
}

func parseEnvDump(t *testing.T, out string) (recs []envLine, end envLine) {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l envLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("bad JSON line %q: %v", sc.Text(), err)
		}
		if end.End != "" {
			t.Fatalf("a line after the end line: %q", sc.Text())
		}
		if l.End != "" {
			end = l
			continue
		}
		recs = append(recs, l)
	}
	if end.End == "" {
		t.Fatalf("no end line in %q", out)
	}
	return recs, end
}

// mustRun runs the command and fails unless it exits 0 with nothing on
// stderr.
func mustRun(t *testing.T, stdin []byte, args ...string) string {
	t.Helper()
	out, stderr, code := run(t, stdin, args...)
	if code != 0 || stderr != "" {
		t.Fatalf("kekbit %s: exit %d, stderr %q", strings.Join(args, " "), code, stderr)
	}
	return out
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// TestEnvelopeTour writes an enveloped channel and reads it back with
// every command.
func TestEnvelopeTour(t *testing.T) {
	root := t.TempDir()
	ch := []string{"--root", root, "--channel", "0x2a"}
	before := uint64(time.Now().UnixNano())
	mustRun(t, []byte("hello\nkekbit\n\nfrom the shell\n"), append([]string{"write", "--envelope", "--format", "text"}, ch...)...)
	after := uint64(time.Now().UnixNano())
	want := []string{"hello", "kekbit", "from the shell"}
	wantPos := []uint64{8, 48, 88} // a heartbeat at 0, then 8+24+len bytes, aligned, each

	// dump: pos len seq time data.
	out := mustRun(t, nil, append([]string{"dump"}, ch...)...)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 4 || lines[3] != "end closed at 136" {
		t.Fatalf("dump:\n%s", out)
	}
	cols := regexp.MustCompile(`^(\d+) (\d+) (\d+) (\S+) (.*)$`)
	for i, l := range lines[:3] {
		m := cols.FindStringSubmatch(l)
		if m == nil || m[1] != fmt.Sprint(wantPos[i]) || m[2] != fmt.Sprint(len(want[i])) || m[3] != fmt.Sprint(i) || m[5] != want[i] {
			t.Fatalf("dump line %d: %q", i, l)
		}
		ts, err := time.Parse(time.RFC3339Nano, m[4])
		if err != nil || uint64(ts.UnixNano()) < before || uint64(ts.UnixNano()) > after || ts.Location() != time.UTC {
			t.Fatalf("dump line %d: time %q (%v), want UTC between %d and %d", i, m[4], err, before, after)
		}
	}

	// dump --json: the user's payload as data, seq and time beside it.
	if out := mustRun(t, nil, append([]string{"dump", "--from", "48"}, ch...)...); !strings.HasPrefix(out, lines[1]+"\n"+lines[2]+"\n") {
		t.Fatalf("dump --from 48:\n%s", out)
	}
	recs, end := parseEnvDump(t, mustRun(t, nil, append([]string{"dump", "--json"}, ch...)...))
	if len(recs) != 3 || end.End != "closed" || end.Pos != 136 || end.Check != "" {
		t.Fatalf("dump --json: %+v, end %+v", recs, end)
	}
	for i, r := range recs {
		if r.Pos != wantPos[i] || r.Len != len(want[i]) || string(r.Data) != want[i] || r.Seq == nil || *r.Seq != uint64(i) ||
			r.Time == nil || *r.Time < before || *r.Time > after {
			t.Fatalf("dump --json record %d: %+v", i, r)
		}
	}

	// dump --raw --json: the bytes as stored, which the test checks itself.
	raws, end := parseEnvDump(t, mustRun(t, nil, append([]string{"dump", "--raw", "--json"}, ch...)...))
	if len(raws) != 3 || end.End != "closed" || end.Pos != 136 {
		t.Fatalf("dump --raw --json: %+v, end %+v", raws, end)
	}
	le := binary.LittleEndian
	for i, r := range raws {
		if r.Pos != wantPos[i] || r.Len != 24+len(want[i]) || len(r.Data) != r.Len || r.Seq != nil || r.Time != nil ||
			string(r.Data[24:]) != want[i] || le.Uint32(r.Data[4:]) != 0 ||
			le.Uint64(r.Data[8:]) != uint64(i) || le.Uint64(r.Data[16:]) != *recs[i].Time {
			t.Fatalf("dump --raw --json record %d: %+v", i, r)
		}
		rec := le.AppendUint64(nil, uint64(r.Len))
		rec = append(rec, r.Data[4:]...)
		rec = append(rec, make([]byte, (8-r.Len%8)%8)...) // the padding
		if crc := crc32.Checksum(rec, castagnoli); crc != le.Uint32(r.Data) {
			t.Fatalf("record %d: stored CRC %#x, computed %#x", i, le.Uint32(r.Data), crc)
		}
	}
	rawText := mustRun(t, nil, append([]string{"dump", "--raw"}, ch...)...)
	if !strings.HasPrefix(rawText, fmt.Sprintf("8 29 %x\n", raws[0].Data)) || !strings.HasSuffix(rawText, "\nend closed at 136\n") {
		t.Fatalf("dump --raw:\n%s", rawText)
	}

	// info: the envelope, the seq base, the max payload, the trailer.
	info := mustRun(t, nil, append([]string{"info"}, ch...)...)
	for _, l := range []string{
		"max record    1056 bytes\n",
		"envelope      crc,seq,time (24 bytes per record)\n",
		"seq base      0\n",
		"max payload   1032 bytes\n",
		"records       3\n",
		"heartbeats    1\n",
		"state         closed\n",
		"trailer       closed at 136 after 3 records: the read agrees\n",
	} {
		if !strings.Contains(info, l) {
			t.Fatalf("info has no line %q:\n%s", l, info)
		}
	}
	var ij struct {
		Envelope   string  `json:"envelope"`
		MaxPayload uint32  `json:"max_payload"`
		SeqBase    *uint64 `json:"seq_base"`
		Trailer    *struct {
			ClosedAt uint64 `json:"closed_at"`
			Records  uint64 `json:"records"`
		} `json:"trailer"`
		Heartbeats int    `json:"heartbeats"`
		Problem    string `json:"problem"`
	}
	out = mustRun(t, nil, append([]string{"info", "--json"}, ch...)...)
	if err := json.Unmarshal([]byte(out), &ij); err != nil {
		t.Fatal(err)
	}
	if ij.Envelope != "crc,seq,time" || ij.MaxPayload != 1032 || ij.SeqBase == nil || *ij.SeqBase != 0 || ij.Trailer == nil ||
		ij.Trailer.ClosedAt != 136 || ij.Trailer.Records != 3 || ij.Heartbeats != 1 || ij.Problem != "" {
		t.Fatalf("info --json: %s", out)
	}

	// verify.
	out = mustRun(t, nil, append([]string{"verify"}, ch...)...)
	if out != "3 records verified, closed at 136; envelope crc,seq,time, seq 0..2, the close trailer agrees\n" {
		t.Fatalf("verify: %q", out)
	}

	// A copy through dump --json and write --jsonl carries the payloads.
	src := mustRun(t, nil, append([]string{"dump", "--json"}, ch...)...)
	dst := filepath.Join(t.TempDir(), "copy.kekbit")
	mustRun(t, []byte(src), "write", "--jsonl", "--envelope", "seq", "--seq-base", "7", dst)
	got, _ := parseEnvDump(t, mustRun(t, nil, "dump", "--json", dst))
	if len(got) != 3 || string(got[2].Data) != "from the shell" || *got[2].Seq != 9 || got[2].Time != nil {
		t.Fatalf("the copy: %+v", got)
	}
}

// TestEnvelopeFields: any subset of the fields, named in every way the
// flag takes them; dump shows the columns the channel has.
func TestEnvelopeFields(t *testing.T) {
	dir := t.TempDir()
	for i, c := range []struct {
		args    []string // between write and the channel
		after   []string // after the channel
		columns string   // a dump line's, "pos len ... data"
		envLen  int
		seq0    uint64
	}{
		{args: []string{"--envelope", "seq"}, columns: `8 1 0 a`, envLen: 8},
		{args: []string{"--envelope=time"}, columns: `8 1 \S+Z a`, envLen: 8},
		{args: []string{"--envelope", "crc"}, columns: `8 1 a`, envLen: 8},
		{args: []string{"--envelope", "time,crc"}, columns: `8 1 \S+Z a`, envLen: 16},
		{args: []string{"--seq-base", "1000"}, after: []string{"--envelope", "crc,seq"}, columns: `8 1 1000 a`, envLen: 16, seq0: 1000},
		{args: []string{"--envelope", "all", "--seq-base=18446744073709551615"}, columns: `8 1 18446744073709551615 \S+Z a`, envLen: 24, seq0: 1<<64 - 1},
		{after: []string{"--envelope"}, columns: `8 1 0 \S+Z a`, envLen: 24},
		{args: []string{"--envelope", "--format", "text"}, columns: `8 1 0 \S+Z a`, envLen: 24},
		{args: []string{"--envelope", "none"}, columns: `8 1 a`},
	} {
		t.Run(strings.Join(append(c.args, c.after...), " "), func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprintf("c%d.kekbit", i))
			args := append(append(append([]string{"write"}, c.args...), path), c.after...)
			mustRun(t, []byte("a\nb\n"), args...)
			out := mustRun(t, nil, "dump", path)
			first := strings.SplitN(out, "\n", 2)[0]
			if !regexp.MustCompile(`^` + c.columns + `$`).MatchString(first) {
				t.Fatalf("dump's first line %q, want %s", first, c.columns)
			}
			raws, _ := parseEnvDump(t, mustRun(t, nil, "dump", "--raw", "--json", path))
			if len(raws) != 2 || raws[0].Len != 1+c.envLen {
				t.Fatalf("dump --raw --json: %+v, want records of %d bytes", raws, 1+c.envLen)
			}
			out = mustRun(t, nil, "verify", path)
			if c.envLen == 0 {
				if !strings.HasSuffix(out, "; no envelope: framing checked only\n") {
					t.Fatalf("verify: %q", out)
				}
				return
			}
			if !strings.HasPrefix(out, "2 records verified, closed at ") || !strings.HasSuffix(out, ", the close trailer agrees\n") {
				t.Fatalf("verify: %q", out)
			}
			if strings.Contains(c.columns, " 0 ") || c.seq0 != 0 {
				if want := fmt.Sprintf(", seq %d..%d,", c.seq0, c.seq0+1); !strings.Contains(out, want) {
					t.Fatalf("verify: %q, want %q", out, want)
				}
			}
		})
	}
}

// TestEnvelopeDamage damages an enveloped channel of 50 records the ways a
// crash or a bad disk does: verify and dump stop at the first bad record
// and exit 1 naming its position and the check that failed.
func TestEnvelopeDamage(t *testing.T) {
	dir := t.TempDir()
	var input bytes.Buffer
	for i := range 50 {
		fmt.Fprintf(&input, "record %03d\n", i)
	}
	good := filepath.Join(dir, "good.kekbit")
	crcOnly := filepath.Join(dir, "crc-only.kekbit")
	mustRun(t, input.Bytes(), "write", "--envelope", good)
	mustRun(t, input.Bytes(), "write", "--envelope", "crc", crcOnly)
	img, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	crcImg, err := os.ReadFile(crcOnly)
	if err != nil {
		t.Fatal(err)
	}
	recs, end := parseEnvDump(t, mustRun(t, nil, "dump", "--json", good))
	if len(recs) != 50 || end.End != "closed" {
		t.Fatalf("%d records, end %+v", len(recs), end)
	}
	next := func(i int) uint64 { // the position after record i
		if i+1 < len(recs) {
			return recs[i+1].Pos
		}
		return end.Pos
	}
	const dataOffset = 1024
	zero := func(img []byte, from, to uint64) []byte {
		img = bytes.Clone(img)
		clear(img[dataOffset+from : dataOffset+to])
		return img
	}
	flipped := bytes.Clone(img)
	flipped[dataOffset+recs[10].Pos+8+24+3] ^= 0x01 // a bit of record 10's payload
	crcRecs, crcEnd := parseEnvDump(t, mustRun(t, nil, "dump", "--json", crcOnly))

	for _, c := range []struct {
		name   string
		img    []byte
		good   int    // records before the bad one
		at     uint64 // where the read ends
		check  string
		stderr string // in the message
	}{
		{"a flipped payload bit", flipped, 10, recs[10].Pos, "crc", fmt.Sprintf("the record at position %d fails its CRC32C", recs[10].Pos)},
		{"a record zeroed", zero(img, recs[10].Pos, next(10)), 10, recs[11].Pos, "seq", fmt.Sprintf("the record at position %d has sequence number 11, want 10", recs[11].Pos)},
		{"two records zeroed", zero(img, recs[10].Pos, next(11)), 10, recs[12].Pos, "seq", "has sequence number 12, want 10"},
		{"a record half zeroed", zero(img, recs[10].Pos+16, next(10)), 10, recs[10].Pos, "crc", "fails its CRC32C"},
		{"the last record zeroed", zero(img, recs[49].Pos, next(49)), 49, end.Pos, "trailer", fmt.Sprintf("the channel ends at position %d after 49 records, but its writer closed it at %d after 50", end.Pos, end.Pos)},
		{"the tail and the close mark zeroed", zero(img, recs[40].Pos, end.Pos+8), 40, 1<<20 - 8, "trailer", fmt.Sprintf("its writer closed it at %d after 50", end.Pos)},
		{"a record zeroed, no seq", zero(crcImg, crcRecs[10].Pos, crcRecs[11].Pos), 49, crcEnd.Pos, "trailer", "after 49 records, but its writer closed it"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".kekbit")
			if err := os.WriteFile(path, c.img, 0o644); err != nil {
				t.Fatal(err)
			}
			oneLine := func(args []string, stderr string) {
				t.Helper()
				if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "kekbit: "+path+": channel corrupt: ") ||
					!strings.Contains(stderr, c.stderr) || strings.Contains(stderr, "panic") {
					t.Fatalf("%v: stderr %q, want one line naming %s and saying %q", args, stderr, path, c.stderr)
				}
			}
			out, stderr, code := run(t, nil, "verify", path)
			if want := fmt.Sprintf("%s verified, then corrupt at %d (%s)\n", plural(c.good), c.at, c.check); code != 1 || out != want {
				t.Fatalf("verify: exit %d, %q, want 1, %q", code, out, want)
			}
			oneLine([]string{"verify"}, stderr)

			out, stderr, code = run(t, nil, "dump", path)
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if want := fmt.Sprintf("end corrupt at %d (%s)", c.at, c.check); code != 1 || len(lines) != c.good+1 || lines[c.good] != want {
				t.Fatalf("dump: exit %d, %d lines, last %q, want %q", code, len(lines), lines[len(lines)-1], want)
			}
			oneLine([]string{"dump"}, stderr)

			out, stderr, code = run(t, nil, "dump", "--json", path)
			got, last := parseEnvDump(t, out)
			if code != 1 || len(got) != c.good || last.End != "corrupt" || last.Pos != c.at || last.Check != c.check || last.Want == nil || last.Got == nil {
				t.Fatalf("dump --json: exit %d, %d records, end %+v", code, len(got), last)
			}
			oneLine([]string{"dump", "--json"}, stderr)

			out = mustRun(t, nil, "info", path) // info says what it found, and exits 0
			if !strings.Contains(out, "state         corrupt\n") || !strings.Contains(out, "problem       channel corrupt: ") ||
				!strings.Contains(out, fmt.Sprintf(" after 50 records: the read found %d good records and ended at %d\n", c.good, c.at)) {
				t.Fatalf("info:\n%s", out)
			}
		})
	}

	// --raw reads a damaged channel as the crate does: the flipped bit goes
	// unseen.
	path := filepath.Join(dir, "a_flipped_payload_bit.kekbit")
	raws, end := parseEnvDump(t, mustRun(t, nil, "dump", "--raw", "--json", path))
	if len(raws) != 50 || end.End != "closed" || raws[10].Data[24+3] == recs[10].Data[3] {
		t.Fatalf("dump --raw of the flipped file: %d records, end %+v", len(raws), end)
	}

	// A damaged extension block: the channel is refused, but --raw reads it.
	badExt := bytes.Clone(img)
	badExt[152] ^= 1 // the sequence base
	path = filepath.Join(dir, "bad-extension.kekbit")
	if err := os.WriteFile(path, badExt, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"verify", "dump", "info"} {
		if _, stderr, code := run(t, nil, cmd, path); code != 1 || !strings.Contains(stderr, "extension_crc") || strings.Count(stderr, "\n") != 1 {
			t.Fatalf("%s of a damaged extension block: exit %d, %q", cmd, code, stderr)
		}
	}
	if raws, end := parseEnvDump(t, mustRun(t, nil, "dump", "--raw", "--json", path)); len(raws) != 50 || end.End != "closed" {
		t.Fatalf("dump --raw of a damaged extension block: %d records, end %+v", len(raws), end)
	}
}

func plural(n int) string {
	if n == 1 {
		return "1 record"
	}
	return strconv.Itoa(n) + " records"
}

// TestPlainChannelUnchanged: a channel without an envelope dumps exactly
// as before the envelope, --raw or not; verify checks its framing.
func TestPlainChannelUnchanged(t *testing.T) {
	root := t.TempDir()
	ch := []string{"--root", root, "--channel", "0x2a"}
	mustRun(t, []byte("hello\nkekbit\n\nfrom the shell\n"), append([]string{"write", "--format", "text"}, ch...)...)
	const text = "8 5 hello\n24 6 kekbit\n40 14 from the shell\nend closed at 64\n"
	const jsonl = `{"pos":8,"len":5,"data":"aGVsbG8="}
{"pos":24,"len":6,"data":"a2VrYml0"}
{"pos":40,"len":14,"data":"ZnJvbSB0aGUgc2hlbGw="}
{"end":"closed","pos":64}
`
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"dump"}, text},
		{[]string{"dump", "--raw"}, text},
		{[]string{"dump", "--json"}, jsonl},
		{[]string{"dump", "--json", "--raw"}, jsonl},
		{[]string{"verify"}, "3 records verified, closed at 64; no envelope: framing checked only\n"},
	} {
		if out := mustRun(t, nil, append(c.args, ch...)...); out != c.want {
			t.Errorf("%v:\n%s\nwant:\n%s", c.args, out, c.want)
		}
	}
	info := mustRun(t, nil, append([]string{"info"}, ch...)...)
	if !strings.Contains(info, "\nmax record    1032 bytes\nenvelope      none\ntimeout ") || strings.Contains(info, "trailer") || strings.Contains(info, "seq base") {
		t.Errorf("info:\n%s", info)
	}
}

// TestVerifyVectors: verify agrees with the reader on the crate's files.
func TestVerifyVectors(t *testing.T) {
	for _, v := range vectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			out, stderr, code := run(t, nil, "verify", v.Path)
			msgs, pos, end := v.Expect()
			var want string
			switch endNames[end] {
			case "closed":
				want = fmt.Sprintf("%s verified, closed at %d; no envelope: framing checked only\n", plural(len(msgs)), pos)
			case "full":
				want = fmt.Sprintf("%s verified, full at %d; no envelope: framing checked only\n", plural(len(msgs)), pos)
			case "watermark":
				want = fmt.Sprintf("%s verified up to %d, no close mark: the writer has not closed it (no writer holds it); no envelope: framing checked only\n", plural(len(msgs)), pos)
			case "truncated":
				want = fmt.Sprintf("%s verified, then truncated at %d\n", plural(len(msgs)), pos)
			}
			wantCode := 0
			if end != nil && endNames[end] == "truncated" {
				wantCode = 1
				if strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, v.Path) {
					t.Errorf("stderr %q", stderr)
				}
			}
			if code != wantCode || out != want {
				t.Fatalf("exit %d, %q; want %d, %q (stderr %q)", code, out, wantCode, want, stderr)
			}
		})
	}
}

// TestVerifyWhileWriting: a channel whose writer is at work verifies, with
// no close mark yet; dump --follow, --raw or not, follows it to its close.
func TestVerifyWhileWriting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0000_0000", "0000_0009.kekbit")
	w := exec.Command(kekbit, "write", "--envelope", "--format", "text", path)
	stdin, _ := w.StdinPipe()
	var werr bytes.Buffer
	w.Stderr = &werr
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Process.Kill(); w.Wait() })
	fmt.Fprintln(stdin, "one")
	waitReady(t, path)
	var out string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if out = mustRun(t, nil, "verify", path); strings.HasPrefix(out, "1 record ") || time.Now().After(deadline) {
			break
		}
	}
	if out != "1 record verified up to 48, no close mark: the writer has not closed it (it is still writing); envelope crc,seq,time, seq 0..0\n" {
		t.Fatalf("verify while writing: %q", out)
	}
	var follows [2]bytes.Buffer
	var followers []*exec.Cmd
	for i, args := range [][]string{{"dump", "--follow", "--json", path}, {"dump", "--follow", "--json", "--raw", path}} {
		f := exec.Command(kekbit, args...)
		f.Stdout = &follows[i]
		if err := f.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Process.Kill(); f.Wait() })
		followers = append(followers, f)
	}
	fmt.Fprintln(stdin, "two")
	stdin.Close()
	if err := w.Wait(); err != nil {
		t.Fatalf("write: %v: %s", err, werr.String())
	}
	for _, f := range followers {
		if err := f.Wait(); err != nil {
			t.Fatalf("%v: %v", f.Args, err)
		}
	}
	recs, end := parseEnvDump(t, follows[0].String())
	if len(recs) != 2 || string(recs[1].Data) != "two" || *recs[1].Seq != 1 || end.End != "closed" || end.Pos != 88 {
		t.Errorf("dump --follow --json: %+v, end %+v", recs, end)
	}
	raws, end := parseEnvDump(t, follows[1].String())
	if len(raws) != 2 || string(raws[1].Data[24:]) != "two" || raws[1].Seq != nil || end.End != "closed" || end.Pos != 88 {
		t.Errorf("dump --follow --json --raw: %+v, end %+v", raws, end)
	}
	if out := mustRun(t, nil, "verify", path); out != "2 records verified, closed at 88; envelope crc,seq,time, seq 0..1, the close trailer agrees\n" {
		t.Fatalf("verify after close: %q", out)
	}
}

func TestEnvelopeUsageErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.kekbit")
	for _, args := range [][]string{
		{"write", "--envelope", "crc,bogus", path},
		{"write", "--envelope=bogus", path},
		{"write", "--envelope", "bogus", path},
		{"write", path, "--envelope", "crc,,seq"},
		{"write", "--seq-base", "3", path},
		{"write", "--envelope", "--seq-base", "x", path},
		{"verify"},
		{"verify", path, path},
		{"verify", "--root", dir, "--channel", "zz"},
		{"dump", "--raw=maybe", path},
	} {
		_, stderr, code := run(t, []byte("a\n"), args...)
		if code != 2 || !strings.HasPrefix(stderr, "kekbit: ") || strings.Count(stderr, "\n") != 2 {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("a usage error left a channel behind: %v", err)
	}
	if _, stderr, code := run(t, nil, "verify", filepath.Join(dir, "missing.kekbit")); code != 1 || !strings.Contains(stderr, "missing.kekbit") {
		t.Fatalf("verify of a missing file: exit %d, %q", code, stderr)
	}
}
