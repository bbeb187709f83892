// Package vectortest loads the channel files written by the Rust kekbit
// crate (testdata/vectors in the repository) and their JSON sidecars, for
// the tests of every backend.
package vectortest

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/kekbit-go/kekbit/domain"
)

// Vector is one channel file and what a correct reader yields from it.
type Vector struct {
	Name  string
	Path  string // the channel file
	Image []byte // its bytes
	Side  Sidecar
}

// Sidecar is the part of a vector's JSON sidecar the tests use.
type Sidecar struct {
	NativeRoot string `json:"native_root"`
	NativePath string `json:"native_path"`
	DataFormat string `json:"data_format"`
	Closed     bool   `json:"closed"`
	Header     struct {
		VersionU64   uint64 `json:"version_u64"`
		WriterID     uint64 `json:"writer_id"`
		ChannelID    uint64 `json:"channel_id"`
		Capacity     uint32 `json:"capacity"`
		MaxMsgLen    uint32 `json:"max_msg_len"`
		Timeout      uint64 `json:"timeout"`
		CreationTime uint64 `json:"creation_time"`
		TickUnitID   uint8  `json:"tick_unit_id"`
	} `json:"header"`
	WriterOps []struct {
		Op         string `json:"op"`
		Pos        uint64 `json:"pos"`
		Len        int    `json:"len"`
		Hex        string `json:"hex"`
		Result     string `json:"result"`
		RecordSize int    `json:"record_size"`
	} `json:"writer_ops"`
	ExpectedRead struct {
		Messages []Message `json:"messages"`
		Checksum string    `json:"checksum_fnv1a64"`
		Final    string    `json:"final"`
		Position uint64    `json:"final_position"`
	} `json:"expected_read"`
}

// Message is one record a reader hands out.
type Message struct {
	Pos uint64 `json:"pos"`
	Hex string `json:"hex"`
}

// Bytes decodes the message's payload.
func (m Message) Bytes() []byte {
	b, err := hex.DecodeString(m.Hex)
	if err != nil {
		panic(fmt.Sprintf("vectortest: bad hex in sidecar: %v", err))
	}
	return b
}

// Dir returns the vectors folder: $KEKBIT_VECTORS if set, else the
// repository's testdata/vectors, found from this file's place in the
// repository (so a test in any package, run from anywhere, finds it).
func Dir() (string, error) {
	if d := os.Getenv("KEKBIT_VECTORS"); d != "" {
		return d, nil
	}
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("vectortest: cannot tell where the repository is (set KEKBIT_VECTORS)")
	}
	dir := filepath.Join(filepath.Dir(self), "..", "..", "testdata", "vectors")
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return "", fmt.Errorf("vectortest: no vectors at %s (set KEKBIT_VECTORS): %v", dir, err)
	}
	return dir, nil
}

// Load returns every vector, sorted by name. It fails if there are none.
func Load() ([]Vector, error) {
	dir, err := Dir()
	if err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var vs []Vector
	for _, f := range files {
		v := Vector{Name: strings.TrimSuffix(filepath.Base(f), ".json")}
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(raw, &v.Side); err != nil {
			return nil, fmt.Errorf("vectortest: %s: %w", f, err)
		}
		v.Path = strings.TrimSuffix(f, ".json") + ".kekbit"
		if v.Image, err = os.ReadFile(v.Path); err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	if len(vs) == 0 {
		return nil, errors.New("vectortest: no vectors in " + dir)
	}
	return vs, nil
}

// Truncated reports whether the crate's file ends inside a record, so that
// a reader yields only the records wholly inside it (c_full, c2_full_exact)
// and ends with Truncated at TruncatedAt.
func (v Vector) Truncated() bool { return v.TruncatedAt() >= 0 }

// TruncatedAt returns the position of the first expected message that does
// not lie wholly inside the file, or -1.
func (v Vector) TruncatedAt() int64 {
	fileEnd := uint64(len(v.Image)) - 1024
	for _, m := range v.Side.ExpectedRead.Messages {
		if m.Pos+align8(8+uint64(len(m.Hex)/2)) > fileEnd {
			return int64(m.Pos)
		}
	}
	return -1
}

func align8(n uint64) uint64 { return (n + 7) &^ 7 }

// Expect returns what our reader yields from the vector's file, as
// DESIGN.md says: the sidecar's messages and final result, except where the
// crate's file ends inside a record (c_full, c2_full_exact), where the
// records wholly inside the file come out and the read ends with
// domain.ErrTruncated at the first one that is not.
func (v Vector) Expect() (msgs []Message, pos uint64, end error) {
	msgs = v.Side.ExpectedRead.Messages
	pos = v.Side.ExpectedRead.Position
	switch v.Side.ExpectedRead.Final {
	case "Closed":
		end = domain.ErrClosed
	case "ChannelFull":
		end = domain.ErrChannelFull
	case "none":
		end = domain.ErrNothingYet
	default:
		end = fmt.Errorf("vectortest: unknown final result %q", v.Side.ExpectedRead.Final)
	}
	if at := v.TruncatedAt(); at >= 0 {
		for len(msgs) > 0 && msgs[len(msgs)-1].Pos >= uint64(at) {
			msgs = msgs[:len(msgs)-1]
		}
		end, pos = domain.ErrTruncated, uint64(at)
	}
	return msgs, pos, end
}

// CheckRead reads everything r holds and fails t unless it is exactly what
// Expect says: the same messages at the same positions, the same end at the
// same position, carried by a *domain.ReadError with the bytes read, and,
// where the whole file was read, the sidecar's checksum.
func CheckRead(t testing.TB, r *domain.Reader, v Vector) {
	t.Helper()
	want, wantPos, wantErr := v.Expect()
	var got []Message
	sum := fnv.New64a()
	n, err := r.Read(func(rec domain.Record) error {
		pos, p := rec.Position, rec.Payload
		got = append(got, Message{Pos: pos, Hex: hex.EncodeToString(p)})
		sum.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(p))))
		sum.Write(p)
		return nil
	}, 0)
	if !errors.Is(err, wantErr) {
		t.Fatalf("%s: read ended with %v, want %v", v.Name, err, wantErr)
	}
	if uint64(n) != wantPos || r.Position() != wantPos {
		t.Fatalf("%s: read %d bytes, at position %d; want %d", v.Name, n, r.Position(), wantPos)
	}
	var re *domain.ReadError
	if wantErr != domain.ErrNothingYet && (!errors.As(err, &re) || re.Position != wantPos || re.BytesRead != n) {
		t.Fatalf("%s: end %#v does not carry position %d and %d bytes read", v.Name, err, wantPos, n)
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d messages, want %d", v.Name, len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s: message %d: got %+v, want %+v", v.Name, i, got[i], want[i])
		}
	}
	if !v.Truncated() {
		if s := fmt.Sprintf("%#016x", sum.Sum64()); s != v.Side.ExpectedRead.Checksum {
			t.Fatalf("%s: checksum %s, want %s", v.Name, s, v.Side.ExpectedRead.Checksum)
		}
	}
}

// CheckHeader fails t unless h holds the sidecar's header fields.
func CheckHeader(t testing.TB, h domain.Header, v Vector) {
	t.Helper()
	sh := v.Side.Header
	if h.Version != domain.Version(sh.VersionU64) || h.WriterID != sh.WriterID || h.ChannelID != sh.ChannelID ||
		h.Capacity != sh.Capacity || h.MaxMsgLen != sh.MaxMsgLen || h.Timeout != sh.Timeout ||
		h.CreationTime != sh.CreationTime || h.TickUnit.ID() != sh.TickUnitID {
		t.Fatalf("%s: header %+v does not match sidecar %+v", v.Name, h, sh)
	}
}
