//go:build race

package journal_test

// raceEnabled: the race detector slows the long walks down tenfold.
const raceEnabled = true
