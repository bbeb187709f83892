//go:build race

package domain_test

const raceOn = true
