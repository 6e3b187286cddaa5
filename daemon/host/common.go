package host

import (
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/cc532012/drpc/daemon/logging"
	"github.com/cc532012/drpc/daemon/metrics"
)

// Common are the configuration keys that every daemon has: its logging,
// its metrics endpoint and the limits of its socket. A daemon's
// configuration struct inlines it:
//
//	type Config struct {
//		RuntimeDir  string `yaml:"runtime_dir" flag:"runtime-dir" usage:"..."`
//		host.Common `yaml:",inline"`
//	}
//
// The flag tags make the command-line flags that override the keys (see
// package cli).
type Common struct {
	// LogLevel is "debug", "info", "warn" or "error".
	LogLevel string `yaml:"log_level" flag:"log-level" usage:"log 'LEVEL': debug|info|warn|error"`
	// LogFormat is "text" or "json".
	LogFormat string `yaml:"log_format" flag:"log-format" usage:"log 'FORMAT': text|json"`
	// MetricsAddr is HOST:PORT for the Prometheus endpoint; empty turns it
	// off. An empty host means 127.0.0.1.
	MetricsAddr string `yaml:"metrics_addr" flag:"metrics-addr" usage:"serve Prometheus /metrics on 'HOST:PORT' (off if empty; an empty host means 127.0.0.1)"`
	// Limits bound what the daemon's clients may make it hold.
	Limits Limits `yaml:"limits"`
}

// DefaultCommon returns the defaults of Common: info level, text format, no
// metrics endpoint, DefaultLimits.
func DefaultCommon() Common {
	return Common{LogLevel: "info", LogFormat: "text", Limits: DefaultLimits()}
}

// CommonConfig returns c itself: a configuration struct that inlines Common
// has this method too, by which the host and the command line reach the
// common keys.
func (c *Common) CommonConfig() *Common { return c }

// Validate checks the values of c, with messages that name the key.
func (c Common) Validate() error {
	var errs []error
	if _, err := logging.ParseLevel(c.LogLevel); err != nil {
		errs = append(errs, fmt.Errorf("log_level: %w", err))
	}
	if _, err := logging.ParseFormat(c.LogFormat); err != nil {
		errs = append(errs, fmt.Errorf("log_format: %w", err))
	}
	if c.MetricsAddr != "" {
		if _, err := metrics.ResolveAddr(c.MetricsAddr); err != nil {
			errs = append(errs, fmt.Errorf("metrics_addr: %w", err))
		}
	}
	if err := c.Limits.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Logger returns the logger that c's level and format describe, writing to
// w (stderr if nil).
func (c Common) Logger(w io.Writer) (*slog.Logger, error) {
	return logging.New(logging.Options{Level: c.LogLevel, Format: c.LogFormat, Writer: w})
}
