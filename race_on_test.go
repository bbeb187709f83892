//go:build race

package kekbit_test

// raceEnabled: under the race detector sync.Pool drops some of what is put
// back, so allocation counts are not the program's.
const raceEnabled = true
