package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/kekbit-go/kekbit/domain"
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
