// Package bytesize reads and writes byte counts the way the tools' flags
// take them (drpc bench --size, bench-peers -sizes): a number of bytes,
// with an optional suffix B, KiB (or K) or MiB (or M), in any case: 64,
// 64B, 4KiB, 4k, 1MiB, 1M. The suffixes are powers of two, as for message
// sizes everywhere in this project.
package bytesize

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrSyntax: the text is not a byte count.
var ErrSyntax = errors.New("not a size: want a number of bytes with an optional suffix B, KiB (K) or MiB (M), e.g. 64, 4KiB, 1MiB")

// suffixes are the units Parse knows, longest first.
var suffixes = []struct {
	s string
	m int
}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"k", 1 << 10}, {"m", 1 << 20}, {"b", 1}}

// Parse reads a byte count. It refuses negative numbers, fractions and
// counts that do not fit in an int (ErrSyntax).
func Parse(s string) (int, error) {
	text := strings.TrimSpace(s)
	num, mult := text, 1
	lower := strings.ToLower(text)
	for _, suf := range suffixes {
		if strings.HasSuffix(lower, suf.s) {
			num, mult = strings.TrimSpace(text[:len(text)-len(suf.s)]), suf.m
			break
		}
	}
	if num == "" || num[0] == '+' || num[0] == '-' {
		return 0, fmt.Errorf("%q: %w", s, ErrSyntax)
	}
	n, err := strconv.ParseUint(num, 10, 63)
	if err != nil || n > uint64(maxInt/mult) {
		return 0, fmt.Errorf("%q: %w", s, ErrSyntax)
	}
	return int(n) * mult, nil
}

const maxInt = int(^uint(0) >> 1)

// Format writes n the way Parse reads it, in the largest unit that divides
// it: "64 B", "4 KiB", "1 MiB".
func Format(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// Value is a byte count as a command-line flag (flag.Value and
// pflag.Value): Set parses with Parse.
type Value int

// Set parses s.
func (v *Value) Set(s string) error {
	n, err := Parse(s)
	if err != nil {
		return err
	}
	*v = Value(n)
	return nil
}

// String formats the value in bytes, as a default value reads best.
func (v *Value) String() string { return strconv.Itoa(int(*v)) }

// Type names the value's kind in pflag's help.
func (v *Value) Type() string { return "size" }
