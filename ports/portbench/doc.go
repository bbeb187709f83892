// Package portbench holds the write and read benchmarks every backend runs
// the same way, as porttest holds the checks every backend runs: the
// domain's Writer and Reader over a backend's storages, record sizes 8, 72,
// 1024 and 4096 bytes, with b.SetBytes (MB/s) and b.ReportAllocs.
//
// A backend's benchmark is three lines, handing [Run] a [Factory]:
//
//	func BenchmarkMemory(b *testing.B) {
//		portbench.Run(b, newChannel)
//	}
//
// where the factory makes a fresh, zero-filled storage of a given size for
// a writer and returns a function that opens more storages of the same
// channel for readers:
//
//	func newChannel(b *testing.B, size int64) (ports.Storage, func() ports.Storage) {
//		st := memory.New(size)
//		return st, func() ports.Storage { return st.Share() }
//	}
//
// The benchmarks are named Write/size=N, Heartbeat, Read/size=N and
// Records/size=N under the caller's, so that
//
//	go test -run '^$' -bench 'Memory/(Write|Read)/size=72$' ./domain
//
// selects the write and read of a 72-byte record on the memory backend.
// The package imports the domain and the codecs: it measures the library
// on a backend, not the backend alone.
package portbench
