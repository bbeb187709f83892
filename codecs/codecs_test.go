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
