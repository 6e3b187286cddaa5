// Command drpc-engine is a stand-in for a DAOS I/O engine, so that
// drpc-server can be run and tested for real, and a small model of what an
// engine does over dRPC:
//
//	drpc-engine --socket-dir DIR --index N
//
// listens on DIR/daos_engine<N>.sock (mode 0600) and serves the mgmt module
// (2): set rank (202, the rank is remembered), prepare for shutdown (218),
// ping (225) and pool evict (230: each handle is recorded once and logged,
// msg="pool handle evicted" with the pool and handle UUIDs), logging each
// call. It then tells the server on
// DIR/daos_server.sock that it is ready (srv module, method 301), retrying
// until the server is up, and runs until SIGINT or SIGTERM, when it removes
// its socket and exits 0 (whether or not the server prepared it for
// shutdown). Prepared for shutdown, it keeps running: a server that starts
// again adopts it (sets its rank again, pings it), and the engine then
// notifies that new server ready again, so that it learns the engine's URI
// and incarnation.
//
//	drpc-engine event --socket-dir DIR --index N --msg TEXT
//
// sends one RAS event to the server (method 304) and prints the reply.
//
//	drpc-engine version
//
// prints the binary's version and the versions of the modules in it.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/cc532012/drpc/daemon/cli"
)

// Socket names in the socket directory, as DAOS names them.
const (
	serverSocket = "daos_server.sock"
	engineSocket = "daos_engine%d.sock"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the command line args and returns the exit code: 0, 1 for a
// failure, 2 for a usage mistake.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "drpc-engine: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// usageError marks a command-line mistake.
type usageError struct{ error }

// Unwrap returns the mistake.
func (e usageError) Unwrap() error { return e.error }

// noArgs refuses positional arguments.
func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", args[0])}
	}
	return nil
}

// common are the flags of both commands.
type common struct {
	socketDir string
	index     uint32
	logLevel  string
}

func (c *common) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&c.socketDir, "socket-dir", "", "`DIR` of the server's socket and of this engine's (required; made absolute)")
	cmd.Flags().Uint32Var(&c.index, "index", 0, "the engine's instance `N`: its socket is DIR/daos_engine<N>.sock")
	cmd.Flags().StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
}

// check checks the flags and makes the socket directory absolute: the
// server accepts only an absolute engine socket, and a relative one would
// name another place to a process with another working directory.
func (c *common) check() error {
	if c.socketDir == "" {
		return usageError{errors.New("--socket-dir is required: give the server's socket directory (drpc-server's --socket-dir)")}
	}
	abs, err := filepath.Abs(c.socketDir)
	if err != nil {
		return fmt.Errorf("--socket-dir %s: %w: give an absolute path", c.socketDir, err)
	}
	c.socketDir = abs
	return nil
}

func (c *common) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, usageError{fmt.Errorf("--log-level %q: want debug, info, warn or error", c.logLevel)}
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})).With("index", c.index), nil
}

func newRoot() *cobra.Command {
	var c common
	root := &cobra.Command{
		Use:           "drpc-engine --socket-dir DIR --index N",
		Short:         "A stand-in DAOS I/O engine: serves mgmt 202/218/225/230 and notifies drpc-server",
		Args:          noArgs,
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := c.check(); err != nil {
				return err
			}
			log, err := c.logger(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return serve(cmd.Context(), c.socketDir, c.index, log)
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.CompletionOptions.DisableDefaultCmd = true
	c.add(root)
	version := cli.VersionCommand()
	version.Args = noArgs
	root.AddCommand(eventCommand(), version)
	return root
}
