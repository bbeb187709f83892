package codecs_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/kekbit-go/kekbit/codecs"
)

func TestRaw(t *testing.T) {
	var f codecs.Raw
	if f.ID() != 2 || f.MediaType() != "application/octet-stream" {
		t.Fatal(f.ID(), f.MediaType())
	}
	dst := make([]byte, 4)
	if n, err := f.Encode(dst, []byte("abcd")); n != 4 || err != nil || string(dst) != "abcd" {
		t.Fatal(n, err, dst)
	}
	if n, err := f.Encode(dst, []byte("abcde")); n != 0 || !errors.Is(err, codecs.ErrShortBuffer) {
		t.Fatal(n, err)
	}
	src := []byte{1, 2, 3}
	out, err := f.Decode(src)
	src[0] = 9
	if err != nil || !bytes.Equal(out, []byte{1, 2, 3}) {
		t.Fatal("Decode must copy", out, err)
	}
}

func TestText(t *testing.T) {
	var f codecs.Text
	if f.ID() != 3 || f.MediaType() != "text/plain" {
		t.Fatal(f.ID(), f.MediaType())
	}
	dst := make([]byte, 8)
	if n, err := f.Encode(dst, "héé"); n != 5 || err != nil || string(dst[:n]) != "héé" {
		t.Fatal(n, err)
	}
	if _, err := f.Encode(dst, "123456789"); !errors.Is(err, codecs.ErrShortBuffer) {
		t.Fatal(err)
	}
	_, err := f.Encode(dst, "ab\xffc")
	if !errors.Is(err, codecs.ErrInvalidText) || err.Error() != "codecs: text is not valid UTF-8: bad byte 0xff at offset 2" {
		t.Fatal(err)
	}
	if s, err := f.Decode([]byte("ok ✓")); s != "ok ✓" || err != nil {
		t.Fatal(s, err)
	}
	if _, err := f.Decode([]byte{'a', 0xc3}); !errors.Is(err, codecs.ErrInvalidText) {
		t.Fatal(err)
	}
}

func TestVerbatim(t *testing.T) {
	if v, ok := any(codecs.Raw{}).(codecs.Verbatim); !ok || !v.Verbatim() {
		t.Fatal("Raw must be Verbatim")
	}
	if _, ok := any(codecs.Text{}).(codecs.Verbatim); ok {
		t.Fatal("Text validates UTF-8: it must not be Verbatim")
	}
	// Raw keeps the promise: Encode is copy for every value that fits, and
	// ErrShortBuffer for every value that does not.
	var f codecs.Raw
	for _, size := range []int{0, 1, 7, 8, 64} {
		for _, n := range []int{0, 1, size - 1, size, size + 1} {
			if n < 0 {
				continue
			}
			v := bytes.Repeat([]byte{0xA5}, n)
			dst := bytes.Repeat([]byte{0x5A}, size)
			want := bytes.Repeat([]byte{0x5A}, size)
			got, err := f.Encode(dst, v)
			if n > size {
				if !errors.Is(err, codecs.ErrShortBuffer) {
					t.Errorf("Encode(%d bytes into %d): %v, want ErrShortBuffer", n, size, err)
				}
				continue
			}
			wantN := copy(want, v)
			if got != wantN || err != nil || !bytes.Equal(dst, want) {
				t.Errorf("Encode(%d bytes into %d) = %d, %v, dst %x; copy gives %d, dst %x", n, size, got, err, dst, wantN, want)
			}
		}
	}
}

// A wrapper that embeds Raw but changes Encode must switch Verbatim off,
// or a writer may copy the value without calling its Encode.
type countingRaw struct {
	codecs.Raw
	calls *int
}

func (c countingRaw) Encode(dst, v []byte) (int, error) {
	*c.calls++
	return c.Raw.Encode(dst, v)
}

func (countingRaw) Verbatim() bool { return false }

func TestVerbatimEmbedded(t *testing.T) {
	var calls int
	var enc codecs.Encoder[[]byte] = countingRaw{calls: &calls}
	if v, ok := enc.(codecs.Verbatim); ok && v.Verbatim() {
		t.Fatal("countingRaw switched Verbatim off")
	}
	if n, err := enc.Encode(make([]byte, 4), []byte("ab")); n != 2 || err != nil || calls != 1 {
		t.Fatal(n, err, calls)
	}
}

// Each format's id and media type are the ones the package doc lists, and
// fixed: channels written with them must stay readable.
func TestFormats(t *testing.T) {
	cases := []struct {
		format    codecs.Format
		id        uint64
		mediaType string
		verbatim  bool
	}{
		{codecs.Raw{}, 2, "application/octet-stream", true},
		{codecs.Text{}, 3, "text/plain", false},
		{codecs.JSON[any]{}, 4, "application/json", false},
		{codecs.JSON[[]byte]{}, 4, "application/json", false}, // base64, not the bytes
	}
	for _, c := range cases {
		if c.format.ID() != c.id || c.format.MediaType() != c.mediaType {
			t.Errorf("%T: id %d, media type %q; want %d, %q", c.format, c.format.ID(), c.format.MediaType(), c.id, c.mediaType)
		}
		v, ok := c.format.(codecs.Verbatim)
		if ok && v.Verbatim() != c.verbatim || !ok && c.verbatim {
			t.Errorf("%T: Verbatim %v, want %v", c.format, ok && v.Verbatim(), c.verbatim)
		}
	}
	if codecs.RawID != 2 || codecs.TextID != 3 || codecs.JSONID != 4 || codecs.ProtoID != 5 {
		t.Error("the id constants changed")
	}
}
