// Package atomicx has the one memory-ordering primitive sync/atomic lacks:
// a release-only store.
//
// sync/atomic's stores are sequentially consistent; on amd64 that is an
// XCHG, a locked instruction that drains the store buffer and costs a few
// nanoseconds per record. Publishing a record needs only release ordering
// (the payload before the length word), which on amd64 is a plain MOV:
// x86-TSO never reorders a store with earlier stores, and the assembly call
// keeps the compiler from moving stores across it. Everywhere else, and in
// race-detector builds (which must see the synchronisation), StoreRelease
// is atomic.StoreUint64.
package atomicx
