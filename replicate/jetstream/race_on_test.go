//go:build race

package jetstream_test

// raceEnabled: the race detector slows everything about tenfold, so the
// tests move fewer records.
const raceEnabled = true
