// Package porttest checks that an implementation of ports.Storage and
// ports.Volume keeps the contracts written in package ports, in the spirit
// of testing/fstest.TestFS: an adapter's test hands [Run] a way to make an
// empty volume, and every misbehaviour found is reported, not just the
// first.
//
//	func TestConformance(t *testing.T) {
//		porttest.Run(t, porttest.Harness{
//			NewVolume: func(t *testing.T) ports.Volume { return memory.NewVolume() },
//		})
//	}
//
// The storages it checks are those the volume makes (Create for a writer's,
// Open for a reader's), so a backend needs no other hook. It ends with a
// short run of the domain on the volume: create a channel, write, open,
// read back, close.
package porttest
