package logging

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"syscall"
)

// The accepted values of --log-level and --log-format, for help texts.
var (
	Levels  = []string{"debug", "info", "warn", "error"}
	Formats = []string{"text", "json"}
)

// Errors of ParseLevel and ParseFormat (and so of New); test with errors.Is.
var (
	// ErrBadLevel: the log level is not one of Levels.
	ErrBadLevel = errors.New("unknown log level")
	// ErrBadFormat: the log format is not one of Formats.
	ErrBadFormat = errors.New("unknown log format")
)

// Format is a log record format.
type Format string

// The log formats.
const (
	// FormatText writes slog's key=value lines.
	FormatText Format = "text"
	// FormatJSON writes one JSON object per line.
	FormatJSON Format = "json"
)

// Options configure New. The zero value logs at info level, as text, to
// stderr.
type Options struct {
	// Level is "debug", "info", "warn" (or "warning") or "error", in any
	// case; empty means "info".
	Level string
	// Format is "text" or "json"; empty means "text".
	Format string
	// Writer receives the records; nil means os.Stderr.
	Writer io.Writer
	// AddSource adds the source file and line of each log call.
	AddSource bool
}

// New returns the logger that opts describe. It fails only for an unknown
// level or format (ErrBadLevel, ErrBadFormat), with a message that lists the
// accepted values.
func New(opts Options) (*slog.Logger, error) {
	level, err := ParseLevel(opts.Level)
	if err != nil {
		return nil, err
	}
	format, err := ParseFormat(opts.Format)
	if err != nil {
		return nil, err
	}
	w := opts.Writer
	if w == nil {
		w = os.Stderr
	}
	ho := &slog.HandlerOptions{Level: level, AddSource: opts.AddSource}
	if f, ok := w.(*os.File); ok && OnJournal(f) {
		ho.ReplaceAttr = dropTime
	}
	var h slog.Handler
	switch format {
	case FormatJSON:
		h = slog.NewJSONHandler(w, ho)
	default:
		h = slog.NewTextHandler(w, ho)
	}
	return slog.New(h), nil
}

// dropTime removes the record's time (the journal adds its own).
func dropTime(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey && len(groups) == 0 {
		return slog.Attr{}
	}
	return a
}

// ParseLevel returns the slog level that s names: "debug", "info", "warn"
// (or "warning") or "error", in any case; "" is info.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "", "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("%w %q: use one of %s", ErrBadLevel, s, strings.Join(Levels, ", "))
}

// ParseFormat returns the format that s names: "text" or "json", in any case;
// "" is text.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "text":
		return FormatText, nil
	case "json":
		return FormatJSON, nil
	}
	return "", fmt.Errorf("%w %q: use one of %s", ErrBadFormat, s, strings.Join(Formats, ", "))
}

// OnJournal reports whether f is the stream that systemd connected to the
// journal: JOURNAL_STREAM holds "DEVICE:INODE" of that stream, and f's
// device and inode match.
func OnJournal(f *os.File) bool {
	v := os.Getenv("JOURNAL_STREAM")
	if v == "" || f == nil {
		return false
	}
	var dev, ino uint64
	if _, err := fmt.Sscanf(v, "%d:%d", &dev, &ino); err != nil {
		return false
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return false
	}
	return uint64(st.Dev) == dev && uint64(st.Ino) == ino
}

// Discard returns a logger that drops every record, for tests and for
// callers that pass no logger.
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
