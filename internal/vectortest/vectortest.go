// Package vectortest loads the channel files written by the Rust kekbit
// crate (shared/vectors beside the repository) and their JSON sidecars, for
// the tests of every backend.
package vectortest

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
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

// Dir returns the vectors folder: $KEKBIT_VECTORS if set, else the first
// shared/vectors found walking up from the working directory.
func Dir() (string, error) {
	if d := os.Getenv("KEKBIT_VECTORS"); d != "" {
		return d, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		cand := filepath.Join(d, "shared", "vectors")
		if st, err := os.Stat(cand); err == nil && st.IsDir() {
			return cand, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("vectortest: no shared/vectors above " + wd + " (set KEKBIT_VECTORS)")
		}
	}
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
