//go:build !race

package kekbit_test

const raceEnabled = false
