// Package kekbit is the front door of kekbit for Go: persistent data
// channels. One writer appends records to a fixed-capacity channel; readers
// in this process or others follow it live, replay it from any record, and
// learn when it is closed, full, abandoned or corrupt. A program needs this
// package, one backend and codecs, nothing else:
//
//	vol := mmap.NewVolume(kekbit.DefaultRoot())       // or file.NewVolume, memory.NewVolume
//	h, _ := kekbit.NewHeader(kekbit.Hints{ChannelID: 42, Capacity: 1 << 20, MaxMsgLen: 1024, Timeout: 30, TickUnit: kekbit.Secs})
//	w, err := kekbit.Create(vol, h, codecs.Text{})    // the writer
//	r, err := kekbit.OpenWhenReady(ctx, vol, 42)      // a reader, in any process
//	err = r.Follow(ctx, func(rec kekbit.Record) error { ... })
//
// Create, Open, OpenWhenReady, Resume and RemoveAbandoned work on any
// ports.Volume; ShmWriter, ShmReader and TryShmReader are the Rust crate's
// names for the same on channel files mapped into memory under a folder
// (the crate's layout, so its channels open unchanged).
//
// # Records and positions
//
// Every way of reading (Reader.Read with a handler, Records, Follow,
// FollowRecords) hands out a Record: its Position, its Payload, and Next(),
// the position after it. Reader.Position is always the Next of the last
// record handed out. A consumer that stores Next of each record it handled
// resumes after a restart with MoveTo(Next): the next record, never one
// twice. A handler returns an error to stop a read or a follow; the call
// returns that error. Decode turns records into typed values through a
// codecs.Decoder, as Writer encodes them through a codecs.Encoder.
//
// # Errors
//
// Write tells three cases apart: ErrRecordTooLarge (above the max record
// length: never fits), ErrNoSpace (fits the max but not the space left:
// roll to a new channel) and ErrChannelFull (nothing fits any more). A read
// ends with a *ReadError matching ErrClosed, ErrChannelFull, ErrTimeout,
// ErrWriterGone, ErrCorrupt or ErrTruncated; a volume's failure is a
// *ChannelError naming the operation, channel and path once; a bad header
// a *HeaderError.
//
// # Backends
//
// adapters/mmap (files mapped into memory: the fast one, across
// processes), adapters/file (plain files through afero, ReadAt/WriteAt),
// adapters/memory (in-process, for tests and pipelines). Package domain
// holds the format logic behind this package; ports the interfaces a
// backend implements, and ports/porttest the checks it must pass.
package kekbit
