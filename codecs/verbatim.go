package codecs

// Verbatim is an optional ability of an Encoder[[]byte] whose encoding of
// a value is the value's bytes, unchanged: Encode(dst, v) is copy(dst, v)
// for every v that fits. A writer may then copy the bytes itself, without
// the call to Encode. Verbatim must report false for an encoder that checks
// or changes its input (a type that embeds Raw and overrides Encode
// included).
type Verbatim interface {
	Verbatim() bool
}

// Verbatim reports true: Raw's encoding is the bytes themselves.
func (Raw) Verbatim() bool { return true }

var _ Verbatim = Raw{}
