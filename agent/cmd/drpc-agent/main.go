// Command drpc-agent is the dRPC security agent: it gives every local process
// that asks a signed credential for its own identity (dRPC module 1, method
// 101), on the socket that libdaos looks for. See the module's README for
// the commands, flags, configuration keys and systemd units.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cc532012/drpc/agent/internal/agent"
	"github.com/cc532012/drpc/daemon/cli"
	"github.com/cc532012/drpc/daemon/host"
	"github.com/cc532012/drpc/drpc/auth"
)

func main() {
	os.Exit(cli.Execute(context.Background(), newRoot()))
}

const long = `drpc-agent gives every local process that asks a credential for its own
identity (uid, gid and groups, as the kernel reports them for the socket's
peer), signed with the agent's key, over dRPC (module 1, method 101) on
RUNTIME_DIR/daos_agent.sock.

With access_points, it also serves the management module (module 2): the
system's attach info (206), cached from the servers (gRPC, mutual TLS), and
a process monitor (235, 236, 233) that has the servers evict the pool
handles of a client process that dies without disconnecting.

Make a key once, then start the agent:

  drpc-agent gen-key --out /etc/drpc/agent.key
  drpc-agent start --key /etc/drpc/agent.key`

// newRoot builds the command tree.
func newRoot() *cobra.Command {
	root := cli.NewRoot("drpc-agent", "dRPC security agent: signed credentials for local processes", long)
	load := cli.NewLoader(agent.DefaultConfig)
	start := host.StartCommand(load, "Serve credentials and attach info until SIGINT or SIGTERM (SIGUSR2 re-reads the key and certificates)",
		func(cfg agent.Config, log *slog.Logger) (*host.Host, error) {
			a, err := agent.New(cfg, agent.Options{Logger: log})
			if err != nil {
				return nil, err
			}
			return a.Host, nil
		}, host.RunOptions{})
	root.AddCommand(start, cli.ConfigCommand(load), cli.VersionCommand(), genKeyCommand())
	return root
}

const genKeyLong = `gen-key makes the agent's signing key: FILE, the private key (PKCS#8 PEM,
mode 0400: only its owner may read it, as DAOS's agent also requires), and
FILE.pub, its public key (PKIX PEM, mode 0644). Every server that validates
this agent's credentials needs FILE.pub in its keys directory, named
<origin>.pub (agent.pub by default). Directories missing above FILE are
created with mode 0755.

Key types, and which peers accept them:
  rsa (default, 3072 bits)  DAOS's agent and server sign and verify RSA only:
                            use it when a DAOS server validates this agent's
                            credentials, or a DAOS agent must use the key.
                            drpc-server verifies it too.
  ed25519                   smaller, and about 70 times faster to sign than
                            RSA-3072, but only drpc-server verifies it (DAOS's
                            server refuses it: "unsupported key type").`

func genKeyCommand() *cobra.Command {
	var (
		keyType string
		bits    int
		out     string
		force   bool
	)
	cmd := &cobra.Command{
		Use:     "gen-key --out FILE [--type rsa|ed25519] [--bits 3072] [--force]",
		Short:   "Make a signing key: FILE (private, 0400) and FILE.pub (public, 0644); RSA by default, as DAOS",
		Long:    genKeyLong,
		Example: "  drpc-agent gen-key --out /etc/drpc/agent.key\n  drpc-agent gen-key --type ed25519 --out /etc/drpc/agent.key   # drpc-server only",
		Args:    cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("bits") {
				bits = 0
			}
			files, err := agent.GenerateKey(keyType, bits, out, force)
			if err != nil {
				return err
			}
			var b strings.Builder
			for _, d := range files.Created {
				fmt.Fprintf(&b, "created %s (mode %04o)\n", d, agent.KeyDirMode)
			}
			kind := files.Type.String()
			if files.Bits != 0 {
				kind = fmt.Sprintf("%s-%d", kind, files.Bits)
			}
			fmt.Fprintf(&b, "wrote %s (%s private key, mode %04o) and %s (public key: install it in each server's keys directory as %s.pub, or <origin>.pub)\n",
				files.Private, kind, auth.PrivateKeyMode, files.Public, agent.DefaultOrigin)
			_, err = io.WriteString(cmd.OutOrStdout(), b.String())
			return err
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&keyType, "type", string(agent.DefaultKeyType), "key `TYPE`: rsa (what DAOS's agent and server use) or ed25519 (faster; drpc-server only)")
	fs.IntVar(&bits, "bits", auth.DefaultRSABits, "RSA key size in `BITS`, 2048 to 16384 (rsa only)")
	fs.StringVar(&out, "out", "", "write the private key to `FILE` and the public key to FILE.pub")
	fs.BoolVar(&force, "force", false, "overwrite existing files")
	return cmd
}
