// Command drpc-server is the dRPC server daemon: DAOS I/O engines call it on
// daos_server.sock (notify ready, RAS events, credential validation), and it
// calls them back on their own sockets (set rank, pings, prepare for
// shutdown). See the module's README for the commands, flags, configuration
// keys and systemd units.
package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/cc532012/drpc/daemon/cli"
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
	var sf startFlags
	root, g := cli.NewDaemon(cli.Daemon[server.Config]{
		Name:       "drpc-server",
		Short:      "dRPC server daemon: engines, RAS events and credential validation",
		Long:       long,
		StartShort: "Serve engines and clients until SIGINT or SIGTERM",
		Defaults:   server.DefaultConfig,
		AddFlags:   func(fs *cli.FlagSet) { sf.add(fs, true) },
		ApplyFlags: sf.apply,
		Start: func(cmd *cobra.Command, cfg server.Config, log *slog.Logger) error {
			return server.Run(cmd.Context(), cfg, server.RunOptions{Options: server.Options{Logger: log}, Stdout: cmd.OutOrStdout()})
		},
	})

	var asJSON bool
	var statusFlags startFlags
	status := &cobra.Command{
		Use:   "status [--socket-dir DIR] [--json]",
		Short: "Show the engines (index, rank, state, socket, last ping) and the last events of the running server",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := server.DefaultConfig()
			if err := g.LoadConfig(&cfg); err != nil {
				return err
			}
			statusFlags.apply(cmd, &cfg)
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
	}
	statusFlags.add(status.Flags(), false)
	status.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON: {server, engines: [{index, rank, state, ...}], events: [...]}")
	root.AddCommand(status)
	return root
}

// startFlags are the flags of start (and config dump, and status for the
// socket directory) that override the configuration file's keys.
type startFlags struct {
	socketDir string
	keysDir   string
}

func (f *startFlags) add(fs *cli.FlagSet, keys bool) {
	def := server.DefaultConfig()
	fs.StringVar(&f.socketDir, "socket-dir", def.SocketDir, "`DIR` of the server's socket (DIR/"+server.SocketName+") and of the engines' sockets [config: socket_dir]")
	if keys {
		fs.StringVar(&f.keysDir, "keys-dir", def.KeysDir, "`DIR` of the public keys of trusted agents, <origin>.pub [config: keys_dir]")
	}
}

func (f *startFlags) apply(cmd *cobra.Command, cfg *server.Config) {
	if cli.Changed(cmd, "socket-dir") {
		cfg.SocketDir = f.socketDir
	}
	if cli.Changed(cmd, "keys-dir") {
		cfg.KeysDir = f.keysDir
	}
}
