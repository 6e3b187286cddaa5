package cli

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cc532012/drpc/daemon/config"
	"github.com/cc532012/drpc/daemon/logging"
	"github.com/cc532012/drpc/daemon/metrics"
	"github.com/cc532012/drpc/daemon/version"
)

// The names of the global flags.
const (
	FlagConfig      = "config"
	FlagLogLevel    = "log-level"
	FlagLogFormat   = "log-format"
	FlagMetricsAddr = "metrics-addr"
)

// NewRoot returns a daemon's root command: name is the binary's name, short
// and long its help texts. The root runs nothing itself (without a command it
// prints its help); errors are printed by Execute, not by cobra; flag
// mistakes, unknown commands and wrong argument counts are usage errors
// (ExitUsage).
func NewRoot(name, short, long string) *cobra.Command {
	root := &cobra.Command{
		Use:           name,
		Short:         short,
		Long:          long,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return UsageError(cmd, fmt.Errorf("unknown command %q", args[0]))
			}
			return cmd.Help()
		},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return UsageError(cmd, err) })
	return root
}

// NoArgs is cobra.NoArgs as a usage error.
func NoArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return UsageError(cmd, fmt.Errorf("unexpected argument %q: %s takes no arguments", args[0], cmd.CommandPath()))
	}
	return nil
}

// Common are the configuration keys that every daemon has and that the
// global flags override. Inline it in a daemon's config struct:
//
//	type Config struct {
//		RuntimeDir string `yaml:"runtime_dir"`
//		cli.Common `yaml:",inline"`
//	}
type Common struct {
	// LogLevel is "debug", "info", "warn" or "error" (--log-level).
	LogLevel string `yaml:"log_level"`
	// LogFormat is "text" or "json" (--log-format).
	LogFormat string `yaml:"log_format"`
	// MetricsAddr is HOST:PORT for the Prometheus endpoint; empty turns it
	// off (--metrics-addr). An empty host means 127.0.0.1.
	MetricsAddr string `yaml:"metrics_addr"`
}

// DefaultCommon returns the defaults of Common: info level, text format, no
// metrics endpoint.
func DefaultCommon() Common {
	return Common{LogLevel: "info", LogFormat: "text"}
}

// Validate checks the values of c, with messages that name the config key.
func (c Common) Validate() error {
	if _, err := logging.ParseLevel(c.LogLevel); err != nil {
		return fmt.Errorf("log_level: %w", err)
	}
	if _, err := logging.ParseFormat(c.LogFormat); err != nil {
		return fmt.Errorf("log_format: %w", err)
	}
	if c.MetricsAddr != "" {
		if _, err := metrics.ResolveAddr(c.MetricsAddr); err != nil {
			return fmt.Errorf("metrics_addr: %w", err)
		}
	}
	return nil
}

// Logger returns the logger that c's level and format describe, writing to w
// (stderr if nil).
func (c Common) Logger(w io.Writer) (*slog.Logger, error) {
	return logging.New(logging.Options{Level: c.LogLevel, Format: c.LogFormat, Writer: w})
}

// Globals hold the values of the global flags.
type Globals struct {
	// ConfigFile is --config: the YAML configuration file, or empty for
	// the defaults.
	ConfigFile string
	flags      Common
}

// AddGlobalFlags adds --config, --log-level, --log-format and --metrics-addr
// to root as persistent flags (every command has them) and returns where
// their values go.
func AddGlobalFlags(root *cobra.Command) *Globals {
	g := &Globals{}
	fs := root.PersistentFlags()
	fs.StringVar(&g.ConfigFile, FlagConfig, "", "YAML configuration `FILE` (flags override its keys)")
	fs.StringVar(&g.flags.LogLevel, FlagLogLevel, "info", "log `LEVEL`: "+strings.Join(logging.Levels, "|"))
	fs.StringVar(&g.flags.LogFormat, FlagLogFormat, "text", "log `FORMAT`: "+strings.Join(logging.Formats, "|"))
	fs.StringVar(&g.flags.MetricsAddr, FlagMetricsAddr, "", "serve Prometheus /metrics on `HOST:PORT` (off if empty; an empty host means 127.0.0.1)")
	return g
}

// Apply copies the global flags that the user gave on cmd's command line
// onto c, so that they override the configuration file.
func (g *Globals) Apply(cmd *cobra.Command, c *Common) {
	if Changed(cmd, FlagLogLevel) {
		c.LogLevel = g.flags.LogLevel
	}
	if Changed(cmd, FlagLogFormat) {
		c.LogFormat = g.flags.LogFormat
	}
	if Changed(cmd, FlagMetricsAddr) {
		c.MetricsAddr = g.flags.MetricsAddr
	}
}

// Changed reports whether the flag name (of cmd or inherited from a parent)
// was given on the command line.
func Changed(cmd *cobra.Command, name string) bool {
	f := cmd.Flag(name)
	return f != nil && f.Changed
}

// LoadConfig loads the configuration file that --config names, if any, into
// dst (which holds the defaults); see config.Load.
func (g *Globals) LoadConfig(dst any) error {
	if g.ConfigFile == "" {
		return nil
	}
	return config.Load(g.ConfigFile, dst)
}

// VersionCommand returns the `version` command: it prints the binary's
// version, Go version and the versions of the project's modules it contains.
func VersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of this binary and of the modules it contains",
		Args:  NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := io.WriteString(Stdout(cmd), version.Read().String(cmd.Root().Name()))
			return err
		},
	}
}

// ConfigCommand returns the `config` command that groups subcommands such as
// ConfigDumpCommand.
func ConfigCommand(subcommands ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show the configuration",
		Args:  NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(subcommands...)
	return cmd
}

// ConfigDumpCommand returns the `dump` command: it prints, as YAML, the
// configuration that load returns, which should be what the daemon would run
// with: the defaults, overlaid with the --config file, overlaid with the
// flags given (add the daemon's own flags to the returned command). The
// output is a valid configuration file.
func ConfigDumpCommand(load func(cmd *cobra.Command) (any, error)) *cobra.Command {
	return &cobra.Command{
		Use:   "dump",
		Short: "Print the effective configuration (defaults, file and flags) as YAML",
		Args:  NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load(cmd)
			if err != nil {
				return err
			}
			return config.Dump(Stdout(cmd), cfg)
		},
	}
}

// FlagSet is the pflag flag set type, re-exported so that daemons can write
// helpers that add their flags to several commands without importing pflag.
type FlagSet = pflag.FlagSet
