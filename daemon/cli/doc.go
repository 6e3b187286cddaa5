// Package cli holds the command-line pieces that the dRPC daemons share, on
// top of github.com/spf13/cobra:
//
//   - NewRoot: a root command that prints errors itself (Execute), turns
//     flag and argument mistakes into usage errors, and has no completion
//     command;
//   - Loader: the effective configuration of a command, from the defaults,
//     the --config file and the flags given, validated, with the problems of
//     the file's values located on their lines. Each configuration key and
//     its flag are declared once, on the field of the configuration struct
//     (`yaml:"runtime_dir" flag:"runtime-dir" usage:"..."`); a command gets
//     only the flags that apply to it (AddFlags);
//   - VersionCommand and ConfigCommand: `version` and `config dump`;
//   - Execute: runs the root command and turns its error into an exit code
//     (ExitOK, ExitFailure, ExitUsage) and one line on stderr,
//     "drpc-agent: <what went wrong and what to do>", never a stack trace.
//
// A daemon's main is then a straight line:
//
//	load := cli.NewLoader(agent.DefaultConfig)
//	start := load.AddFlags(&cobra.Command{Use: "start", RunE: func(cmd *cobra.Command, _ []string) error {
//		cfg, err := load.Load(cmd)
//		if err != nil {
//			return err
//		}
//		a, err := agent.New(cfg, agent.Options{Logger: ...})
//		if err != nil {
//			return err
//		}
//		return host.Run(cmd.Context(), a.Host, host.RunOptions{Stdout: cmd.OutOrStdout()})
//	}})
package cli
