package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ErrSize: a text is not a byte count.
var ErrSize = errors.New("not a size: want a number of bytes with an optional suffix B, KiB (K), MiB (M) or GiB (G), e.g. 64, 4KiB, 1MiB")

// suffixes are the units ParseSize knows, longest first. They are powers of
// two, as message sizes are everywhere in this project.
var suffixes = []struct {
	s string
	m int64
}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"b", 1}}

// ParseSize reads a byte count, as configuration files and the tools'
// flags take it: a number of bytes with an optional suffix B, KiB (or K),
// MiB (or M) or GiB (or G), in any case: 64, 64B, 4KiB, 4k, 1MiB, 1G. It
// refuses negative numbers, fractions and counts that do not fit in an
// int64 (ErrSize).
func ParseSize(s string) (int64, error) {
	text := strings.TrimSpace(s)
	num, mult := text, int64(1)
	lower := strings.ToLower(text)
	for _, suf := range suffixes {
		if strings.HasSuffix(lower, suf.s) {
			num, mult = strings.TrimSpace(text[:len(text)-len(suf.s)]), suf.m
			break
		}
	}
	if num == "" || num[0] == '+' || num[0] == '-' {
		return 0, fmt.Errorf("%q: %w", s, ErrSize)
	}
	n, err := strconv.ParseUint(num, 10, 63)
	if err != nil || n > uint64(1<<63-1)/uint64(mult) {
		return 0, fmt.Errorf("%q: %w", s, ErrSize)
	}
	return int64(n) * mult, nil
}

// FormatSize writes n the way ParseSize reads it, in the largest unit that
// divides it: "64 B", "4 KiB", "1 MiB", "2 GiB".
func FormatSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// Size is a byte count that configuration files and command-line flags
// write as ParseSize reads it ("64MiB"). It implements pflag.Value, so a
// *Size can be given to a flag set's Var.
type Size int64

// Bytes returns s as a number of bytes.
func (s Size) Bytes() int64 { return int64(s) }

// String formats s without spaces ("64MiB"), as a configuration file
// writes it.
func (s Size) String() string { return strings.ReplaceAll(FormatSize(int64(s)), " ", "") }

// Set parses text, for command-line flags.
func (s *Size) Set(text string) error {
	n, err := ParseSize(text)
	if err != nil {
		return err
	}
	*s = Size(n)
	return nil
}

// Type names the flag's value type in usage messages.
func (s *Size) Type() string { return "size" }

// MarshalYAML writes s as "64MiB".
func (s Size) MarshalYAML() (any, error) { return s.String(), nil }

// UnmarshalYAML reads a size such as "64MiB" or 1024 from a YAML scalar.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("want a size such as 64MiB, got %s", nodeKindName(n.Kind))
	}
	if err := s.Set(n.Value); err != nil {
		return errors.New("want a size such as 64MiB or 4096 (suffixes B, KiB, MiB, GiB)")
	}
	return nil
}

// MarshalText writes s as "64MiB", for encodings other than YAML (JSON).
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a size such as "64MiB".
func (s *Size) UnmarshalText(b []byte) error { return s.Set(string(b)) }
