package cli

import (
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"
)

// Config is what NewDaemon needs of a daemon's configuration type C, through
// its pointer type P: Validate checks the whole configuration, and
// CommonConfig (promoted from the inlined Common) gives the common keys that
// the global flags override.
type Config[C any] interface {
	*C
	Validate() error
	CommonConfig() *Common
}

// CommonConfig returns c itself: a configuration struct that inlines Common
// has this method too, by which NewDaemon reaches the common keys.
func (c *Common) CommonConfig() *Common { return c }

// Daemon describes the command line of a daemon whose configuration is C, a
// struct that inlines Common; NewDaemon builds it.
type Daemon[C any] struct {
	// Name, Short and Long are the binary's name and help texts, as for
	// NewRoot.
	Name, Short, Long string
	// StartShort is the one-line help of the start command.
	StartShort string
	// Defaults returns the configuration without file and flags; nil means
	// the zero C.
	Defaults func() C
	// AddFlags, if not nil, adds the daemon's own flags to a command's flag
	// set; it is called for start and for config dump, which share the
	// values.
	AddFlags func(fs *FlagSet)
	// ApplyFlags, if not nil, copies the daemon's own flags that the user
	// gave on cmd's command line (see Changed) onto cfg.
	ApplyFlags func(cmd *cobra.Command, cfg *C)
	// Start runs the daemon (the start command) with the effective
	// configuration and a logger made from its log_level and log_format,
	// writing to cmd's error stream. cmd gives the context and the output
	// stream.
	Start func(cmd *cobra.Command, cfg C, log *slog.Logger) error
}

// NewDaemon returns the root command of the daemon d describes, with the
// global flags (AddGlobalFlags, returned too, for the daemon's other
// commands) and the commands every daemon has:
//
//   - start: loads the effective configuration (the defaults, overlaid with
//     the --config file, overlaid with the flags given), validates it, makes
//     the logger and calls d.Start;
//   - config dump: prints that configuration (ConfigDumpCommand);
//   - version (VersionCommand).
//
// Add the daemon's other commands to the returned root.
func NewDaemon[C any, P Config[C]](d Daemon[C]) (*cobra.Command, *Globals) {
	root := NewRoot(d.Name, d.Short, d.Long)
	g := AddGlobalFlags(root)
	load := func(cmd *cobra.Command) (C, error) {
		var cfg C
		if d.Defaults != nil {
			cfg = d.Defaults()
		}
		if err := g.LoadConfig(&cfg); err != nil {
			return cfg, err
		}
		g.Apply(cmd, P(&cfg).CommonConfig())
		if d.ApplyFlags != nil {
			d.ApplyFlags(cmd, &cfg)
		}
		return cfg, P(&cfg).Validate()
	}
	addFlags := func(cmd *cobra.Command) *cobra.Command {
		if d.AddFlags != nil {
			d.AddFlags(cmd.Flags())
		}
		return cmd
	}

	start := addFlags(&cobra.Command{
		Use:   "start",
		Short: d.StartShort,
		Args:  NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if d.Start == nil {
				return fmt.Errorf("%s start: the daemon has nothing to run (cli.Daemon.Start is nil)", d.Name)
			}
			cfg, err := load(cmd)
			if err != nil {
				return err
			}
			log, err := P(&cfg).CommonConfig().Logger(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return d.Start(cmd, cfg, log)
		},
	})
	dump := addFlags(ConfigDumpCommand(func(cmd *cobra.Command) (any, error) {
		return load(cmd)
	}))
	root.AddCommand(start, VersionCommand(), ConfigCommand(dump))
	return root, g
}
