package codecs_test

import (
	"reflect"
	"testing"

	"github.com/kekbit-go/kekbit/codecs"
)

// FuzzJSONDecode: Decode takes any bytes without panicking, and what it
// accepts encodes again and decodes to the same value.
func FuzzJSONDecode(f *testing.F) {
	for _, s := range []string{
		`{"id":7,"symbol":"KEK","price":12.5,"tags":["a"],"note":"AQI="}`,
		`{"id":1e400}`, `[1,{"a":null}]`, `"\ud800"`, "\"\xff\"", `{"id":`, ``, `nul`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		if _, err := (codecs.JSON[trade]{}).Decode(payload); err != nil && err.Error() == "" {
			t.Fatal("an error with no message")
		}
		var f codecs.JSON[any]
		v, err := f.Decode(payload)
		if err != nil {
			return
		}
		dst := make([]byte, 6*len(payload)+64) // \u0026 for &, \ufffd for a bad byte
		n, err := f.Encode(dst, v)
		if err != nil {
			t.Fatalf("Decode(%q) gave %#v, which does not encode: %v", payload, v, err)
		}
		again, err := f.Decode(dst[:n])
		if err != nil || !reflect.DeepEqual(again, v) {
			t.Fatalf("%q -> %#v -> %q -> %#v, %v", payload, v, dst[:n], again, err)
		}
	})
}
