// Package porttest is the conformance kit for backends: it checks that an
// implementation of ports.Storage and ports.Volume, and of the optional
// abilities it offers, keeps the contracts written in package ports, in the
// spirit of testing/fstest.TestFS. A backend's test hands [Run] a way to make
// an empty volume; every misbehaviour found is reported (t.Errorf), not just
// the first, in a message that names the method or the ability.
//
// # Using it
//
// A backend, inside this module or outside it, runs the kit from one test:
//
//	func TestConformance(t *testing.T) {
//		porttest.Run(t, porttest.Harness{
//			NewVolume: func(t *testing.T) ports.Volume { return mybackend.NewVolume(t.TempDir()) },
//		})
//	}
//
// The storages it checks are those the volume makes (Create for a writer's,
// Open for a reader's), so a backend needs no other hook. The [Harness]
// fields say what the backend does beyond the base contract
// (ReadOnlyOpen) or cannot do (NoLiveness). A check of an optional ability
// the backend does not offer is skipped ("storage does not implement
// ports.Addressable"); a backend that offers an ability must pass its
// check. Run with -v to see which were skipped.
//
// porttest imports no domain: it checks the ports alone. The shared
// benchmarks are in ports/portbench.
//
// # What Run checks
//
// Each group is a subtest of t, named as the contract it checks:
//
//	Storage/size=N/         for each of Sizes (100, not a multiple of 8,
//	                        and 17440, the smallest channel file)
//	  Size                  writer's and reader's Size, zero-filled when new
//	  ReadAt                in range, crossing the end (the bytes there and
//	                        ErrOutOfRange), outside (nothing), zero bytes
//	  WriteAt               in range reads back; reaching outside writes nothing
//	  LoadStore             little-endian words in the bytes of ReadAt and
//	                        WriteAt; ErrUnalignedOffset, ErrOutOfRange, and
//	                        nothing stored at a misplaced offset
//	  Flush                 returns nil and changes nothing
//	  Close                 a second Close returns nil; every method then
//	                        returns ErrStorageClosed; the other storages of
//	                        the channel keep working
//	  Reader                a reader sees what the writer wrote, before and
//	                        after it opened
//	  ReadOnly              (Harness.ReadOnlyOpen) a reader's writes fail with
//	                        fs.ErrPermission and change nothing
//	  Addressable           Bytes has Size bytes and Words ceil(Size/8) words;
//	                        Bytes agrees with ReadAt and Words()[i] (native
//	                        endian) with LoadUint64(8*i) (little endian), on
//	                        the writer's and a reader's storage, after WriteAt
//	                        and StoreUint64; what the writer writes into its
//	                        views, every storage's methods see
//	  Sizer                 CurrentSize is Size on a new channel and never
//	                        more (nobody cuts it); ErrStorageClosed after Close
//	  Liveness              a reader's WriterAlive is true while the writer's
//	                        storage is open, false after it is closed; the
//	                        writer's own is true; ErrStorageClosed after Close
//	  FaultProne            Faulted is false for addresses outside the
//	                        storage's memory
//	  Pretoucher            Pretouch returns nil and changes no byte, on a new
//	                        channel and after writes; ErrStorageClosed after Close
//	Volume/
//	  Create                init runs once on a zero-filled storage of the size;
//	                        Create returns that storage, still open
//	  CreateExclusive       a second Create of an id: ErrChannelExists, no init
//	  CreateConcurrent      of concurrent Creates of an id, exactly one wins
//	  CreateFailedInit      a failing init leaves no channel behind
//	  NotReadyDuringInit    during init: Open ErrChannelNotReady, List without it
//	  Open                  a missing channel: ErrChannelNotFound
//	  Remove                the channel is gone, its id free again; storages
//	                        open at Remove keep working (not on Windows)
//	  List                  the ready ids, in increasing order
//	  WriteOpener           OpenForWrite: ErrWriterAlive while a writer's
//	                        storage (Create's or an earlier OpenForWrite's) is
//	                        open; after it is closed, a writable storage of
//	                        the same bytes; ErrChannelNotFound, ErrChannelNotReady
//	  AbandonedRemover      RemoveAbandoned: ErrWriterAlive while the writer's
//	                        storage is open; removes once it is closed;
//	                        ErrChannelNotFound, ErrChannelNotReady
//	  DeadCreatorClearer    ClearDeadCreator: a ready channel is kept, with
//	                        its writer's storage open or closed; a missing
//	                        one is false, nil; during init ErrChannelNotReady
//	  ChannelError          every error of the Volume's methods (and of
//	                        OpenForWrite and RemoveAbandoned) is a
//	                        *ports.ChannelError with the channel's id, whose
//	                        message names the channel's path at most once
//
// The Addressable views must not be used after Close; the kit does not
// touch them then.
//
// The domain's end-to-end run on a volume (create a channel, write, open,
// read back, close) is not here: this module's backends run it from
// internal/endtoend beside Run.
package porttest
