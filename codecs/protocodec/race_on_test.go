//go:build race

package protocodec_test

// raceEnabled: allocation counts under the race detector are not the
// program's.
const raceEnabled = true
