package protocodec_test

import (
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/kekbit-go/kekbit"
	"github.com/kekbit-go/kekbit/adapters/memory"
	"github.com/kekbit-go/kekbit/codecs"
	"github.com/kekbit-go/kekbit/codecs/protocodec"
)

// A channel of protocol buffer messages: the writer marshals each one
// straight into the channel; a reader decodes the payloads it is handed
// into new messages. The zero Proto is all a generated type needs.
func ExampleProto() {
	var format protocodec.Proto[*timestamppb.Timestamp]

	vol := memory.NewVolume()
	h, err := kekbit.NewHeader(kekbit.Hints{ChannelID: 1, MaxMsgLen: 64, Timeout: 10, TickUnit: kekbit.Secs})
	if err != nil {
		panic(err)
	}
	w, err := kekbit.Create(vol, h, format)
	if err != nil {
		panic(err)
	}
	start := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for i := range 3 {
		w.Write(timestamppb.New(start.Add(time.Duration(i) * 1500 * time.Millisecond)))
	}
	_, err = w.Write(nil)
	fmt.Println(errors.Is(err, kekbit.ErrEncoding), errors.Is(err, protocodec.ErrNilMessage))
	w.Close()

	r, err := kekbit.Open(vol, 1)
	if err != nil {
		panic(err)
	}
	defer r.Close()
	for ts, err := range kekbit.Decode(r.Records(), format) {
		fmt.Println(ts.Position, ts.Next-ts.Position, ts.Value.AsTime().Format(time.StampMilli), err)
	}
	fmt.Println(format.ID(), format.MediaType(), format.ID() == codecs.ProtoID)
	// Output:
	// true true
	// 8 16 May  1 12:00:00.000 <nil>
	// 24 24 May  1 12:00:01.500 <nil>
	// 48 16 May  1 12:00:03.000 <nil>
	// 5 application/x-protobuf true
}

// When T does not say which message to make, New does: here a reader that
// learns the message's name at run time finds its type in the registry.
func ExampleProto_new() {
	mt, err := protoregistry.GlobalTypes.FindMessageByName("google.protobuf.Duration")
	if err != nil {
		panic(err)
	}
	format := protocodec.Proto[proto.Message]{New: func() proto.Message { return mt.New().Interface() }}

	payload := make([]byte, 64)
	n, err := format.Encode(payload, durationpb.New(90*time.Second))
	fmt.Println(n, err)
	m, err := format.Decode(payload[:n])
	fmt.Println(m.(*durationpb.Duration).AsDuration(), err)

	_, err = protocodec.Proto[proto.Message]{}.Decode(payload[:n])
	fmt.Println(err)

	// Deterministic: the same map encodes to the same bytes every time.
	st, _ := structpb.NewStruct(map[string]any{"b": 2, "a": 1})
	det := protocodec.Proto[*structpb.Struct]{Deterministic: true}
	n, _ = det.Encode(payload, st)
	fmt.Printf("%x\n", payload[:n])
	// Output:
	// 2 <nil>
	// 1m30s <nil>
	// protocodec: no message type to decode into: protoreflect.ProtoMessage does not name one, set Proto.New
	// 0a0e0a0161120911000000000000f03f0a0e0a01621209110000000000000040
}
