package main

import (
	"errors"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kekbit-go/kekbit/adapters/mmap"
	"github.com/kekbit-go/kekbit/domain"
	"github.com/kekbit-go/kekbit/ports"
)

// envelopeFlag is the value of write's --envelope: the envelope fields,
// as domain.ParseEnvelope reads them. Alone on the command line it means
// every field (its NoOptDefVal is "all").
type envelopeFlag struct{ env domain.Envelope }

func (f *envelopeFlag) String() string { return f.env.String() }
func (f *envelopeFlag) Type() string   { return "fields" }
func (f *envelopeFlag) Set(s string) error {
	e, err := domain.ParseEnvelope(s)
	if err != nil {
		return err
	}
	f.env = e
	return nil
}

// isFieldList reports whether s reads as a value of --envelope rather than
// a channel: a list with a comma in it, or one of the field names.
func isFieldList(s string) bool {
	if strings.HasPrefix(s, "-") {
		return false
	}
	switch s {
	case "crc", "seq", "time", "all", "none":
		return true
	}
	return strings.Contains(s, ",")
}

// joinFieldLists rewrites `--envelope crc,seq` as `--envelope=crc,seq` for
// a command that has an --envelope flag. The flag may stand alone (it
// means every field), and pflag never takes the next word as the value of
// such a flag; so the word after it is its value when it reads as a field
// list (isFieldList), and a channel or another flag otherwise. A list
// with a bad name in it ("crc,bogus") is still the flag's value, and a
// usage error.
func joinFieldLists(root *cobra.Command, args []string) []string {
	cmd, _, err := root.Find(args)
	if err != nil || cmd.Flags().Lookup("envelope") == nil {
		return args
	}
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if a == "--envelope" && i+1 < len(args) && isFieldList(args[i+1]) {
			out = append(out, a+"="+args[i+1])
			i++
			continue
		}
		out = append(out, a)
	}
	return out
}

// closeTrailer is what the close trailer of an enveloped channel says
// (FORMAT.md, "Close trailer").
type closeTrailer struct {
	ClosedAt uint64 `json:"closed_at"`
	Records  uint64 `json:"records"`
}

// readTrailer reads the close trailer of st; ok is false if there is none.
func readTrailer(st ports.Storage) (closeTrailer, bool) {
	at, n, ok := domain.ReadTrailer(st)
	return closeTrailer{ClosedAt: at, Records: n}, ok
}

// plainView is a read-only view of a channel file whose extension block
// (file bytes 128..191) reads as zeros: a reader over it sees a format
// 1.0.0 channel, as the Rust crate does, and hands out each record as
// stored, envelope included, without checking it. It is not Addressable,
// so that no byte of the block gets past ReadAt and LoadUint64 (the reader
// then copies each record out: fast enough for a dump). It passes on the
// abilities a following reader uses: WriterAlive and CurrentSize.
type plainView struct{ st *mmap.Storage }

var errReadOnly = errors.New("kekbit: a read-only view of the channel")

const (
	extStart = domain.ExtOffset
	extEnd   = domain.ExtOffset + domain.ExtLen
)

func (v plainView) ReadAt(p []byte, off int64) (int, error) {
	n, err := v.st.ReadAt(p, off)
	if lo, hi := max(off, extStart), min(off+int64(n), extEnd); lo < hi {
		clear(p[lo-off : hi-off])
	}
	return n, err
}

func (v plainView) LoadUint64(off int64) (uint64, error) {
	w, err := v.st.LoadUint64(off)
	if off >= extStart && off < extEnd {
		w = 0
	}
	return w, err
}

func (v plainView) Size() int64                        { return v.st.Size() }
func (v plainView) WriteAt([]byte, int64) (int, error) { return 0, errReadOnly }
func (v plainView) StoreUint64(int64, uint64) error    { return errReadOnly }
func (v plainView) Flush() error                       { return nil }
func (v plainView) Close() error                       { return v.st.Close() }
func (v plainView) WriterAlive() (bool, error)         { return v.st.WriterAlive() }
func (v plainView) CurrentSize() (int64, error)        { return v.st.CurrentSize() }

// formatTime shows a record's time, in ticks of unit since the epoch, as
// an RFC 3339 UTC time.
func formatTime(ticks uint64, unit domain.TickUnit) string {
	return time.Unix(0, 0).Add(unit.ToDuration(ticks)).UTC().Format(time.RFC3339Nano)
}
