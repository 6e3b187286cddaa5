package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/cc532012/drpc/daemon/config"
	"github.com/cc532012/drpc/daemon/version"
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

// ConfigCommand returns the `config` command and its subcommand `dump`,
// which prints the configuration that l makes for it (the defaults,
// overlaid with the --config file, overlaid with the flags given, the
// flags of every key) as YAML: a valid configuration file, what the
// daemon would run with.
func ConfigCommand[C any](l *Loader[C]) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show the configuration",
		Args:  NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	dump := l.AddFlags(&cobra.Command{
		Use:   "dump",
		Short: "Print the effective configuration (defaults, file and flags) as YAML",
		Args:  NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := l.Load(cmd)
			if err != nil {
				return err
			}
			return config.Dump(Stdout(cmd), cfg)
		},
	})
	cmd.AddCommand(dump)
	return cmd
}
