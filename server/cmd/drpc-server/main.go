// Command drpc-server is the dRPC server daemon: DAOS I/O engines call it on
// daos_server.sock (notify ready, RAS events, credential validation), and it
// calls them back on their own sockets (set rank, pings, prepare for
// shutdown). See the module's README for the commands, flags, configuration
// keys and systemd units.
package main

import (
	"context"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/cc532012/drpc/daemon/cli"
	"github.com/cc532012/drpc/daemon/host"
	"github.com/cc532012/drpc/server/internal/server"
)

func main() {
	os.Exit(cli.Execute(context.Background(), newRoot()))
}

const long = `drpc-server is the control-plane daemon of a storage node: its I/O engines
notify it when they are ready and send it RAS events, and it validates the
credentials that clients present (dRPC modules 3 and 4, on
SOCKET_DIR/` + server.SocketName + `, mode 0600). It calls each engine back on its
own socket (SOCKET_DIR/daos_engine<N>.sock): it sets its rank, pings it every
second, and prepares it for shutdown when it stops.

  drpc-server start --socket-dir /var/run/daos_server --keys-dir /etc/drpc/keys
  drpc-server status --socket-dir /var/run/daos_server`

// newRoot builds the command tree.
func newRoot() *cobra.Command {
	root := cli.NewRoot("drpc-server", "dRPC server daemon: engines, RAS events and credential validation", long)
	load := cli.NewLoader(server.DefaultConfig)
	start := load.AddFlags(&cobra.Command{
		Use:   "start",
		Short: "Serve engines and clients until SIGINT or SIGTERM",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load.Load(cmd)
			if err != nil {
				return err
			}
			log, err := cfg.Logger(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			s, err := server.New(cfg, server.Options{Logger: log})
			if err != nil {
				return err
			}
			return host.Run(cmd.Context(), s.Host, host.RunOptions{Stdout: cmd.OutOrStdout(), ShutdownTimeout: server.ShutdownTimeout})
		},
	})

	var asJSON bool
	status := load.AddFlags(&cobra.Command{
		Use:   "status [--socket-dir DIR] [--json]",
		Short: "Show the engines (index, rank, state, socket, last ping) and the last events of the running server",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load.Load(cmd)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			resp, err := server.FetchStatus(ctx, cfg.SocketPath())
			if err != nil {
				return err
			}
			if asJSON {
				return server.WriteStatusJSON(cli.Stdout(cmd), resp)
			}
			return server.WriteStatusText(cli.Stdout(cmd), resp, time.Now())
		},
	}, "socket_dir")
	status.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON: {server, engines: [{index, rank, state, ...}], events: [...]}")
	root.AddCommand(start, status, cli.ConfigCommand(load), cli.VersionCommand())
	return root
}
