package codecs_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/kekbit-go/kekbit"
	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/codecs"
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
	h, err := kekbit.NewHeader(kekbit.Hints{ChannelID: 1, MaxMsgLen: 64, Timeout: 10, TickUnit: kekbit.Secs})
	if err != nil {
		panic(err)
	}
	w, err := kekbit.Create(vol, h, format)
	if err != nil {
		panic(err)
	}
	w.Write(Order{ID: 1, Item: "tea", Price: 2.5})
	w.Write(Order{ID: 2, Item: "cake", Price: 4})
	_, err = w.Write(Order{ID: 3, Item: strings.Repeat("x", 100)})
	fmt.Println(errors.Is(err, kekbit.ErrRecordTooLarge), errors.Is(err, codecs.ErrShortBuffer))
	w.Close()

	r, err := kekbit.Open(vol, 1)
	if err != nil {
		panic(err)
	}
	defer r.Close()
	for o, err := range kekbit.Decode(r.Records(), format) {
		fmt.Printf("%d-%d %+v %v\n", o.Position, o.Next, o.Value, err)
	}
	fmt.Println(format.ID(), format.MediaType())
	// Output:
	// true true
	// 8-56 {ID:1 Item:tea Price:2.5} <nil>
	// 56-96 {ID:2 Item:cake Price:4} <nil>
	// 4 application/json
}
