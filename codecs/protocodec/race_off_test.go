//go:build !race

package protocodec_test

const raceEnabled = false
