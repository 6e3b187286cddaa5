// Command drpc-agent is the dRPC security agent: it gives every local process
// that asks a signed credential for its own identity (dRPC module 1, method
// 101), on the socket that libdaos looks for. See the module's README for
// the commands, flags, configuration keys and systemd units.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/cc532012/drpc/agent/internal/agent"
	"github.com/cc532012/drpc/daemon/cli"
	"github.com/cc532012/drpc/daemon/config"
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

  drpc-agent gen-key --type ed25519 --out /etc/drpc/agent.key
  drpc-agent start --key /etc/drpc/agent.key`

// newRoot builds the command tree.
func newRoot() *cobra.Command {
	var sf startFlags
	root, _ := cli.NewDaemon(cli.Daemon[agent.Config]{
		Name:       "drpc-agent",
		Short:      "dRPC security agent: signed credentials for local processes",
		Long:       long,
		StartShort: "Serve credentials and attach info until SIGINT or SIGTERM (SIGUSR2 re-reads the key and certificates)",
		Defaults:   agent.DefaultConfig,
		AddFlags:   sf.add,
		ApplyFlags: sf.apply,
		Start: func(cmd *cobra.Command, cfg agent.Config, log *slog.Logger) error {
			return agent.Run(cmd.Context(), cfg, agent.RunOptions{Options: agent.Options{Logger: log}, Stdout: cmd.OutOrStdout()})
		},
	})
	root.AddCommand(genKeyCommand())
	return root
}

// startFlags are the flags of start (and config dump) that override the
// configuration file's keys.
type startFlags struct {
	runtimeDir    string
	keyFile       string
	origin        string
	allowInsecure bool
	cacheTTL      config.Duration
	accessPoints  []string
	attachInfoTTL config.Duration
}

func (f *startFlags) add(fs *cli.FlagSet) {
	def := agent.DefaultConfig()
	fs.StringVar(&f.runtimeDir, "runtime-dir", def.RuntimeDir, "`DIR` for the socket (DIR/"+agent.SocketName+") [config: runtime_dir]")
	fs.StringVar(&f.keyFile, "key", "", "private key `FILE` that signs credentials (see gen-key) [config: key_file]")
	fs.StringVar(&f.origin, "origin", def.Origin, "`NAME` of this agent in credentials [config: origin]")
	fs.BoolVar(&f.allowInsecure, "allow-insecure", false, "run without a key: credentials carry only a digest (tests only) [config: allow_insecure]")
	f.cacheTTL = def.CacheTTL
	fs.Var(&f.cacheTTL, "cache-ttl", "reuse a credential for the same identity for `DURATION` (0 turns the cache off) [config: cache_ttl]")
	fs.StringSliceVar(&f.accessPoints, "access-points", nil, "the servers' management services, `HOST[:PORT],...`, tried in turn [config: access_points]")
	f.attachInfoTTL = def.AttachInfoTTL
	fs.Var(&f.attachInfoTTL, "attach-info-ttl", "ask the server for the attach info again after `DURATION` (0 turns the cache off) [config: attach_info_ttl]")
}

func (f *startFlags) apply(cmd *cobra.Command, cfg *agent.Config) {
	if cli.Changed(cmd, "runtime-dir") {
		cfg.RuntimeDir = f.runtimeDir
	}
	if cli.Changed(cmd, "key") {
		cfg.KeyFile = f.keyFile
	}
	if cli.Changed(cmd, "origin") {
		cfg.Origin = f.origin
	}
	if cli.Changed(cmd, "allow-insecure") {
		cfg.AllowInsecure = f.allowInsecure
	}
	if cli.Changed(cmd, "cache-ttl") {
		cfg.CacheTTL = f.cacheTTL
	}
	if cli.Changed(cmd, "access-points") {
		cfg.AccessPoints = f.accessPoints
	}
	if cli.Changed(cmd, "attach-info-ttl") {
		cfg.AttachInfoTTL = f.attachInfoTTL
	}
}

func genKeyCommand() *cobra.Command {
	var (
		keyType string
		bits    int
		out     string
		force   bool
	)
	cmd := &cobra.Command{
		Use:   "gen-key --type ed25519|rsa [--bits 3072] --out FILE [--force]",
		Short: "Make a signing key: FILE (private, 0600) and FILE.pub (public, 0644)",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cli.Changed(cmd, "bits") {
				bits = 0
			}
			pub, err := agent.GenerateKey(keyType, bits, out, force)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write([]byte("wrote " + out + " (private key, mode 0600) and " + pub +
				" (public key: give it to the verifiers as " + agent.DefaultOrigin + ".pub, or <origin>.pub)\n"))
			return err
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&keyType, "type", "ed25519", "key `TYPE`: ed25519 (fast) or rsa (what DAOS servers verify)")
	fs.IntVar(&bits, "bits", 3072, "RSA key size in `BITS` (rsa only)")
	fs.StringVar(&out, "out", "", "write the private key to `FILE` and the public key to FILE.pub")
	fs.BoolVar(&force, "force", false, "overwrite existing files")
	return cmd
}
