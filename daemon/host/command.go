package host

import (
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/cc532012/drpc/daemon/cli"
)

// Config is what StartCommand needs of a daemon's configuration: a pointer
// to a struct that inlines Common.
type Config[C any] interface {
	*C
	CommonConfig() *Common
}

// StartCommand returns a daemon's "start" command, the straight line every
// daemon runs: load the configuration (defaults, the --config file, the
// flags given; checked), make the logger it names, build the daemon with
// newHost, and Run it until SIGINT or SIGTERM. opts.Stdout defaults to the
// command's output. The command has --config and the flags of every key
// that declares one.
func StartCommand[C any, P Config[C]](load *cli.Loader[C], short string, newHost func(cfg C, log *slog.Logger) (*Host, error), opts RunOptions) *cobra.Command {
	return load.AddFlags(&cobra.Command{
		Use:   "start",
		Short: short,
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load.Load(cmd)
			if err != nil {
				return err
			}
			log, err := P(&cfg).CommonConfig().Logger(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			h, err := newHost(cfg, log)
			if err != nil {
				return err
			}
			if opts.Stdout == nil {
				opts.Stdout = cmd.OutOrStdout()
			}
			return Run(cmd.Context(), h, opts)
		},
	})
}
