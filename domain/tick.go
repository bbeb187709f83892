package domain

import (
	"fmt"
	"math"
	"time"
)

// TickUnit is the unit of a channel's timeout and creation time. Its value
// is the id stored in the header: the power of ten of ticks per second.
type TickUnit uint8

// The tick units of format 1.0.0.
const (
	Secs   TickUnit = 0
	Millis TickUnit = 3
	Micros TickUnit = 6
	Nanos  TickUnit = 9
)

// TickUnitFromID returns the tick unit with the given header id, or an error
// wrapping ErrUnknownTickUnit.
func TickUnitFromID(id uint8) (TickUnit, error) {
	u := TickUnit(id)
	if !u.Valid() {
		return 0, fmt.Errorf("%w: id %d (want 9, 6, 3 or 0)", ErrUnknownTickUnit, id)
	}
	return u, nil
}

// Valid reports whether u is one of Nanos, Micros, Millis, Secs.
func (u TickUnit) Valid() bool {
	return u == Nanos || u == Micros || u == Millis || u == Secs
}

// ID returns the id stored in the header.
func (u TickUnit) ID() uint8 { return uint8(u) }

// String returns "Nanos", "Micros", "Millis", "Secs", or "TickUnit(id)".
func (u TickUnit) String() string {
	switch u {
	case Nanos:
		return "Nanos"
	case Micros:
		return "Micros"
	case Millis:
		return "Millis"
	case Secs:
		return "Secs"
	}
	return fmt.Sprintf("TickUnit(%d)", uint8(u))
}

// Duration returns the length of one tick; 0 for an invalid unit.
func (u TickUnit) Duration() time.Duration {
	switch u {
	case Nanos:
		return time.Nanosecond
	case Micros:
		return time.Microsecond
	case Millis:
		return time.Millisecond
	case Secs:
		return time.Second
	}
	return 0
}

// FromDuration converts d to whole ticks, rounding down; negative durations
// give 0.
func (u TickUnit) FromDuration(d time.Duration) uint64 {
	t := u.Duration()
	if d <= 0 || t == 0 {
		return 0
	}
	return uint64(d / t)
}

// ToDuration converts a number of ticks to a duration, saturating at the
// largest time.Duration.
func (u TickUnit) ToDuration(ticks uint64) time.Duration {
	t := uint64(u.Duration())
	if t == 0 {
		return 0
	}
	if ticks > uint64(math.MaxInt64)/t {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(ticks * t)
}

// At returns t as ticks since the Unix epoch (0 for times before it).
func (u TickUnit) At(t time.Time) uint64 { return u.fromNanos(t.UnixNano()) }

// fromNanos returns ns, nanoseconds since the Unix epoch, as ticks (0 for
// times before it).
func (u TickUnit) fromNanos(ns int64) uint64 {
	if ns <= 0 {
		return 0
	}
	switch u { // constant divisors: a multiply, not a division
	case Nanos:
		return uint64(ns)
	case Micros:
		return uint64(ns / 1e3)
	case Millis:
		return uint64(ns / 1e6)
	case Secs:
		return uint64(ns / 1e9)
	}
	return 0
}

// Now returns the current time as ticks since the Unix epoch.
func (u TickUnit) Now() uint64 { return u.At(time.Now()) }
