package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// errNumberForm says which forms of a number the command accepts.
var errNumberForm = errors.New("want a number in decimal (42) or 0x-hex (0x2a)")

// parseNumber reads a whole number that is not negative, in decimal or
// 0x-hex and nothing else: strconv's base 0 would also take 010 as octal
// 8, 0o17, 0b11 and 1_000, and so read an id or a size in a base its
// writer did not mean. It refuses those, a sign, and a number that needs
// more than bits bits. Its errors say what is wrong, not s itself
// (pflag's message names the flag and the value).
func parseNumber(s string, bits int) (uint64, error) {
	digits, base := s, 10
	if rest, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		digits, base = rest, 16
	}
	if digits == "" {
		return 0, fmt.Errorf("no digits: %w", errNumberForm)
	}
	for _, c := range digits {
		if !('0' <= c && c <= '9' || base == 16 && 'a' <= c|0x20 && c|0x20 <= 'f') {
			return 0, fmt.Errorf("%q is not a digit: %w", c, errNumberForm)
		}
	}
	if base == 10 && len(digits) > 1 && digits[0] == '0' {
		return 0, fmt.Errorf("a leading zero (octal elsewhere) is not decimal: %w", errNumberForm)
	}
	n, err := strconv.ParseUint(digits, base, bits)
	if err != nil {
		return 0, fmt.Errorf("too large: more than %d bits", bits)
	}
	return n, nil
}

// number is a flag's value of one of the integer types parseNumber
// reads: an int or int64 is read as 63 bits, so that it is never negative.
type number[T ~int | ~int64 | ~uint32 | ~uint64] struct{ p *T }

func (f number[T]) bits() int {
	var zero T
	switch any(zero).(type) {
	case uint32:
		return 32
	case int:
		return strconv.IntSize - 1
	case int64:
		return 63
	}
	return 64
}

func (f number[T]) Set(s string) error {
	n, err := parseNumber(s, f.bits())
	if err != nil {
		return err
	}
	*f.p = T(n)
	return nil
}

func (f number[T]) String() string {
	if f.p == nil {
		return "0"
	}
	return strconv.FormatUint(uint64(*f.p), 10)
}

func (f number[T]) Type() string {
	var zero T
	switch any(zero).(type) {
	case uint32:
		return "uint32"
	case int:
		return "int"
	case int64:
		return "int64"
	}
	return "uint64"
}

// numberVar defines a flag of fs, name, whose value parseNumber reads
// into p, value by default: pflag's own integer flags take 010 as octal.
func numberVar[T ~int | ~int64 | ~uint32 | ~uint64](fs *pflag.FlagSet, p *T, name string, value T, usage string) {
	*p = value
	fs.Var(number[T]{p}, name, usage)
}

// idFlag is the value of --channel: a channel id, as parseNumber reads
// it, and whether the flag was given.
type idFlag struct {
	id  uint64
	set bool
}

func (f *idFlag) Set(s string) error {
	id, err := parseNumber(s, 64)
	if err != nil {
		return err
	}
	f.id, f.set = id, true
	return nil
}

func (f *idFlag) String() string {
	if !f.set {
		return ""
	}
	return fmt.Sprintf("%#x", f.id)
}

func (f *idFlag) Type() string { return "id" }
