// Package codecs holds the data formats of kekbit channels: how a value is
// encoded into a record's payload and decoded back.
//
// A format has a numeric id and a media type. The id is not stored in the
// channel file (format 1.0.0 has no field for it); writer and readers agree
// on it out of band. The ids are fixed:
//
//	id  format                  media type                Go type
//	 2  raw bytes               application/octet-stream  [Raw]
//	 3  UTF-8 text              text/plain                [Text]
//	 4  JSON (encoding/json)    application/json          [JSON]
//	 5  protocol buffers        application/x-protobuf    protocodec.Proto
//
// Ids 2 and 3 are the Rust crate's. Protocol buffers live in their own
// package, codecs/protocodec, so a program that does not use them does not
// compile google.golang.org/protobuf.
//
// An [Encoder] writes straight into the channel's memory: it is handed the
// room left for the record and returns [ErrShortBuffer] if the value does
// not fit. An encoder whose output is its input, byte for byte, may say so
// with the optional [Verbatim] ability.
package codecs
