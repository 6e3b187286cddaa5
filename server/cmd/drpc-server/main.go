// Command drpc-server is the dRPC server daemon: DAOS I/O engines call it on
// daos_server.sock (notify ready, RAS events, credential validation), and it
// calls them back on their own sockets (set rank, pings, prepare for
// shutdown). See the module's README for the commands, flags, configuration
// keys and systemd units.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cc532012/drpc/daemon/cli"
	"github.com/cc532012/drpc/daemon/host"
	"github.com/cc532012/drpc/daemon/tlsconfig"
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
second, evicts pool handles, and prepares it for shutdown when it stops.
The agents of the client nodes call its management service (gRPC
mgmt.MgmtSvc, TCP port 10001, mutual TLS): attach info and pool evictions.

  drpc-server gen-certs --out /etc/drpc/certs
  drpc-server start --socket-dir /var/run/daos_server --keys-dir /etc/drpc/keys
  drpc-server status --socket-dir /var/run/daos_server`

// newRoot builds the command tree.
func newRoot() *cobra.Command {
	root := cli.NewRoot("drpc-server", "dRPC server daemon: engines, RAS events and credential validation", long)
	load := cli.NewLoader(server.DefaultConfig)
	start := host.StartCommand(load, "Serve engines and clients until SIGINT or SIGTERM",
		func(cfg server.Config, log *slog.Logger) (*host.Host, error) {
			s, err := server.New(cfg, server.Options{Logger: log})
			if err != nil {
				return nil, err
			}
			return s.Host, nil
		}, host.RunOptions{ShutdownTimeout: server.ShutdownTimeout})

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
	root.AddCommand(start, status, cli.ConfigCommand(load), cli.VersionCommand(), genCertsCommand())
	return root
}

func genCertsCommand() *cobra.Command {
	var (
		out         string
		agents      []string
		serverNames []string
		days        int
		force       bool
	)
	cmd := &cobra.Command{
		Use:   "gen-certs --out DIR [--agent NAME]... [--server-name NAME]... [--days N] [--force]",
		Short: "Make a test CA and the certificates of the server and the agents (keys 0400, certificates 0644)",
		Long: `gen-certs makes, in DIR, a certificate authority and the certificates of the
management service's mutual TLS, laid out as DAOS lays out /etc/daos/certs:

  daosCA.crt, daosCA.key     the CA (keep the key to add agents later)
  server.crt, server.key     the server's (names: localhost, 127.0.0.1, ::1,
                             this host's name, and each --server-name)
  NAME.crt, NAME.key         each agent's client certificate (common name NAME)
  clients/NAME.crt           a copy, for the server's client_cert_dir

Files that exist are kept: run it again with a new --agent to add that agent
with the same CA. --force makes everything again, with a new CA. It is meant
for tests and small installations; a site with its own CA issues these
certificates with it.`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return cli.UsageError(cmd, errors.New("--out is required: give the directory to write the certificates to"))
			}
			if days < 1 {
				return cli.UsageError(cmd, fmt.Errorf("--days %d: want at least 1", days))
			}
			files, err := tlsconfig.GenerateFiles(tlsconfig.GenerateOptions{
				Dir: out, Agents: agents, ServerNames: serverNames, Validity: time.Duration(days) * 24 * time.Hour, Force: force,
			})
			if err != nil {
				return err
			}
			var b strings.Builder
			for _, f := range files {
				verb := "wrote"
				if f.Kept {
					verb = "kept "
				}
				fmt.Fprintf(&b, "%s %s (%s, mode %04o)\n", verb, f.Path, f.What, f.Mode.Perm())
			}
			_, err = io.WriteString(cli.Stdout(cmd), b.String())
			return err
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&out, "out", "", "write the certificates to `DIR` (made if missing)")
	fs.StringSliceVar(&agents, "agent", []string{"agent"}, "make a client certificate for the agent `NAME` (repeatable)")
	fs.StringSliceVar(&serverNames, "server-name", nil, "another host `NAME` or IP address the agents dial the server by (repeatable)")
	fs.IntVar(&days, "days", 365, "the certificates are valid for `N` days")
	fs.BoolVar(&force, "force", false, "make every file again, with a new CA")
	return cmd
}
