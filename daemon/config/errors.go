package config

import (
	"errors"
	"fmt"
	"strings"
)

// The kinds of configuration problems; every *Error wraps one. Test with
// errors.Is.
var (
	// ErrUnknownKey: the file names a key that the configuration does not
	// have (often a typo).
	ErrUnknownKey = errors.New("unknown configuration key")
	// ErrBadValue: a value has the wrong type or form (text where a number
	// belongs, a duration without a unit, a list where a mapping belongs).
	ErrBadValue = errors.New("bad configuration value")
	// ErrDuplicateKey: a mapping names the same key twice.
	ErrDuplicateKey = errors.New("duplicate configuration key")
	// ErrSyntax: the file is not valid YAML, holds more than one document,
	// or is not a mapping of keys to values.
	ErrSyntax = errors.New("configuration syntax error")
	// ErrRead: the file could not be read (missing, not a regular file, no
	// permission); the *Error also wraps the operating system's error.
	ErrRead = errors.New("cannot read configuration file")
	// ErrTooLarge: the file is larger than MaxFileSize.
	ErrTooLarge = errors.New("configuration file too large")
)

// Error is one problem with a configuration file. Its message names the
// file, the line and the key, and says what is wrong:
//
//	config /etc/drpc/agent.yaml: line 4: unknown key "cach_ttl" (did you mean "cache_ttl"?)
type Error struct {
	// File is the file's path (or the name given to Decode); may be empty.
	File string
	// Line is the 1-based line of the problem, 0 if it has none.
	Line int
	// Key is the dotted path of the key concerned ("uid_map.1000"), empty
	// if the problem is not about one key.
	Key string
	// Msg says what is wrong, without the file and line.
	Msg string
	// Kind is ErrUnknownKey, ErrBadValue, ErrDuplicateKey, ErrSyntax,
	// ErrRead or ErrTooLarge.
	Kind error
	// Err is the underlying error, if any (the operating system's error for
	// ErrRead).
	Err error
}

// Error formats the problem as "config FILE: line N: MSG".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("config")
	if e.File != "" {
		b.WriteString(" ")
		b.WriteString(e.File)
	}
	b.WriteString(": ")
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the problem's kind and, if any, its underlying error.
func (e *Error) Unwrap() []error {
	errs := make([]error, 0, 2)
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}
