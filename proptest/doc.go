// Package proptest holds kekbit's property tests: random sequences of
// channel operations (Write of random length, Heartbeat, Read with a random
// max, MoveTo valid and invalid positions, Close, opening a new reader) run
// with github.com/leanovate/gopter's state-machine testing against a plain
// model of the rules in DESIGN.md and against every backend at once. After
// every step all backends must agree with the model (results, errors,
// positions, bytes), and their channel images must be byte-identical and
// equal to the image the model computes. About half the cases are
// channels with the record envelope (FORMAT.md: any choice of CRC32C,
// sequence number and time, a sequence base, a tick unit): the model
// computes each envelope, CRC included, reads compare sequence numbers and
// times, and the writers' clock is injected so that images agree.
//
// TestMultiWritersAgreeWithModel does the same for multi-writer channels
// on the backends whose writers share memory (memory, mmap): gopter picks
// the interleaving of three writers' steps (claims held open across the
// others' steps, commits in part, aborts, heartbeats, writers killed with
// a claim open and replaced by joiners, reads, a capacity that fills),
// every step's error and every read must agree with a model of the claims
// in tail order, and after the last writer's Close the data regions must
// be byte-identical.
//
// The default run is short. KEKBIT_PROPTEST_N=100000 runs more cases;
// KEKBIT_PROPTEST_SEED=s repeats a run (the seed is printed on failure).
package proptest
