package config

import (
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration that configuration files and command-line
// flags write as Go writes durations: "1m30s", "500ms", "2h", or "0".
// A number without a unit is refused, since "60" could mean seconds or
// minutes.
//
// It implements the methods of pflag.Value (String, Set, Type), so a
// *Duration can be given to a cobra command's Flags().Var directly.
type Duration time.Duration

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String formats d as time.Duration does ("1m30s").
func (d Duration) String() string { return time.Duration(d).String() }

// Set parses s ("1m30s"), for command-line flags.
func (d *Duration) Set(s string) error {
	v, err := parseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Type names the flag's value type in usage messages.
func (d *Duration) Type() string { return "duration" }

// MarshalYAML writes d as a string ("1m30s").
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// UnmarshalYAML reads a duration such as "1m30s" from a YAML scalar.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("want a duration such as \"1m30s\", got %s", nodeKindName(n.Kind))
	}
	v, err := parseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("%s", durationHint)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes d as "1m30s", for encodings other than YAML (JSON).
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a duration such as "1m30s".
func (d *Duration) UnmarshalText(b []byte) error { return d.Set(string(b)) }

const durationHint = `want a duration such as "1m30s" or "500ms" (units: ns, us, ms, s, m, h)`

func parseDuration(s string) (time.Duration, error) {
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: %s", s, durationHint)
	}
	return v, nil
}

func nodeKindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	}
	return "a scalar"
}
