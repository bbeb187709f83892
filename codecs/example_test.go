package codecs_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/domain"
)

// A channel of JSON values: the writer encodes each one straight into the
// channel; a reader decodes the payloads it is handed.
func ExampleJSON() {
	type Order struct {
		ID    int     `json:"id"`
		Item  string  `json:"item"`
		Price float64 `json:"price"`
	}
	var format codecs.JSON[Order]

	vol := memory.NewVolume()
	h, err := domain.NewHeader(domain.Hints{ChannelID: 1, MaxMsgLen: 64, Timeout: 10, TickUnit: domain.Secs})
	if err != nil {
		panic(err)
	}
	w, err := domain.Create(vol, h, format)
	if err != nil {
		panic(err)
	}
	w.Write(Order{ID: 1, Item: "tea", Price: 2.5})
	w.Write(Order{ID: 2, Item: "cake", Price: 4})
	_, err = w.Write(Order{ID: 3, Item: strings.Repeat("x", 100)})
	fmt.Println(errors.Is(err, domain.ErrRecordTooLarge), errors.Is(err, codecs.ErrShortBuffer))
	w.Close()

	r, err := domain.Open(vol, 1)
	if err != nil {
		panic(err)
	}
	defer r.Close()
	for pos, payload := range r.Records() {
		o, err := format.Decode(payload)
		fmt.Printf("%d %s -> %+v %v\n", pos, payload, o, err)
	}
	fmt.Println(format.ID(), format.MediaType())
	// Output:
	// true true
	// 8 {"id":1,"item":"tea","price":2.5} -> {ID:1 Item:tea Price:2.5} <nil>
	// 56 {"id":2,"item":"cake","price":4} -> {ID:2 Item:cake Price:4} <nil>
	// 4 application/json
}
