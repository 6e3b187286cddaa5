// Package config reads a daemon's YAML configuration file strictly and
// writes the effective configuration back out.
//
// A daemon keeps its configuration in one struct with yaml tags and fills it
// with its defaults in one constructor; Load then overlays the file:
//
//	cfg := DefaultConfig()                // every key has its default
//	if err := config.Load(path, &cfg); err != nil {
//		return err // e.g. config /etc/x.yaml: line 4: unknown key "cach_ttl" (did you mean "cache_ttl"?)
//	}
//
// Keys the file does not name keep their defaults; an empty file gives the
// defaults. Decoding is strict, so that a typo never passes silently: an
// unknown key, a key given twice, a value of the wrong type and a YAML syntax
// error are all errors that name the file, the line and the key (an *Error;
// several problems are joined with errors.Join, one *Error each). Test for
// the kind of problem with errors.Is against ErrUnknownKey, ErrBadValue,
// ErrDuplicateKey, ErrSyntax, ErrRead and ErrTooLarge.
//
// Duration is a time.Duration written as Go writes durations ("1m30s",
// "500ms", "0"); it also works as a command-line flag value (it implements
// the pflag.Value methods), so one type serves the file and the flag.
//
// Dump writes a configuration struct as YAML, for a `config dump` command
// that prints what a daemon would run with.
package config
