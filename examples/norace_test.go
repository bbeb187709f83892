//go:build !race

package examples_test

// raceEnabled: the test runs with -race, and builds the programs with it.
const raceEnabled = false
