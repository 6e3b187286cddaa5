// Package cli holds the command-line pieces that the dRPC daemons share, on
// top of github.com/spf13/cobra:
//
//   - NewRoot: a root command that prints errors itself (Execute), turns
//     flag and argument mistakes into usage errors, and has no completion
//     command;
//   - AddGlobalFlags: the persistent flags --config, --log-level,
//     --log-format and --metrics-addr, and Common, the configuration keys
//     they override (log_level, log_format, metrics_addr), which a daemon's
//     config struct inlines;
//   - VersionCommand and ConfigCommand/ConfigDumpCommand: `version` and
//     `config dump`;
//   - Execute: runs the root command and turns its error into an exit code
//     (ExitOK, ExitFailure, ExitUsage) and one line on stderr,
//     "drpc-agent: <what went wrong and what to do>", never a stack trace;
//   - NewDaemon: all of the above put together for a daemon described by a
//     Daemon value: the root, the global flags, and `start` (which loads,
//     validates and logs as every daemon does, then calls the daemon's Start
//     function), `config dump` and `version`.
//
// A daemon's main is then a few lines:
//
//	root, _ := cli.NewDaemon(cli.Daemon[agent.Config]{
//		Name: "drpc-agent", Short: "dRPC security agent", StartShort: "Serve credentials",
//		Defaults: agent.DefaultConfig, AddFlags: sf.add, ApplyFlags: sf.apply,
//		Start: func(cmd *cobra.Command, cfg agent.Config, log *slog.Logger) error {
//			return agent.Run(cmd.Context(), cfg, ...)
//		},
//	})
//	root.AddCommand(genKeyCommand())
//	os.Exit(cli.Execute(context.Background(), root))
//
// Flags override the configuration file: a command loads the file into its
// defaults, then calls Globals.Apply (and the same for its own flags, with
// Changed) so that only the flags the user gave replace file values.
package cli
