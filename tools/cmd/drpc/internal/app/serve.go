package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/cc532012/drpc/daemon/cli"
	"github.com/cc532012/drpc/drpc"
)

// shutdownTimeout is how long serve-echo lets calls in flight finish after
// SIGINT or SIGTERM.
const shutdownTimeout = 10 * time.Second

func newServeEchoCommand() *cobra.Command {
	var (
		socket  string
		mode    string
		verbose bool
	)
	cmd := &cobra.Command{
		Use:   "serve-echo --socket PATH [--socket-mode 0600]",
		Short: "Serve the module-0 echo on a socket until SIGINT or SIGTERM",
		Long: `serve-echo runs a dRPC server with module 0 (drpc.test.v1.TestService) whose
method 1, Echo, answers every call with its own body, whatever the bytes, up
to 64 MiB: an EchoRequest comes back as the EchoResponse the generated Echo
would send (the two messages are encoded alike), and anything else comes
back unchanged. Point 'drpc call' and 'drpc bench' at it. Other methods of
module 0 answer UNKNOWN_METHOD, other modules UNKNOWN_MODULE.

It refuses a socket path where a server listens or that holds something
other than a stale socket, and removes its socket when it stops (SIGINT or
SIGTERM; calls in flight get ` + shutdownTimeout.String() + ` to finish).`,
		Example: `  drpc serve-echo --socket /tmp/echo.sock &
  drpc call --socket /tmp/echo.sock --method Echo --data '{"payload": "aGk="}'`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireSocket(socket); err != nil {
				return err
			}
			perm, err := strconv.ParseUint(mode, 8, 32)
			if err != nil || perm > 0o777 {
				return usage(fmt.Errorf("--socket-mode %q is not a permission in octal: give e.g. 0600 (this user) or 0666 (everyone)", mode))
			}
			level := slog.LevelWarn
			if verbose {
				level = slog.LevelDebug
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			return serveEcho(cmd.Context(), cmd, socket, os.FileMode(perm), log)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&socket, "socket", "", "listen on the socket `PATH`")
	fs.StringVar(&mode, "socket-mode", "0600", "permissions of the socket file, in `OCTAL`: 0600 lets only this user connect, 0666 everyone")
	fs.BoolVarP(&verbose, "verbose", "v", false, "log every session and call on stderr")
	return cmd
}

// serveEcho serves EchoModule on socket until ctx ends, then shuts down.
func serveEcho(ctx context.Context, cmd *cobra.Command, socket string, mode os.FileMode, log *slog.Logger) error {
	opts := []drpc.ServerOption{
		drpc.WithMaxMessageSize(maxMessageSize),
		drpc.WithSocketMode(mode),
		drpc.WithLogger(log),
	}
	srv, err := drpc.NewDomainSocketServer(socket, opts...)
	if err != nil {
		return serveError(socket, err)
	}
	if err := srv.RegisterRPCModule(EchoModule{}); err != nil {
		return fmt.Errorf("serve-echo: register the echo module: %w", err)
	}
	// Start's context stops the server at once when it ends; the signal
	// context ends the loop below, and Shutdown lets calls finish.
	if err := srv.Start(context.WithoutCancel(ctx)); err != nil {
		return serveError(socket, err)
	}
	fmt.Fprintf(cli.Stdout(cmd), "serving the echo (module 0, method 1) on %s; stop with Ctrl-C\n", socket)
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("serve-echo: shutdown: %w", err)
	}
	return nil
}

// serveError explains why the server could not start on socket.
func serveError(socket string, err error) error {
	switch {
	case errors.Is(err, drpc.ErrSocketInUse):
		return fmt.Errorf("a server already listens on %s: stop it, or choose another --socket", socket)
	case errors.Is(err, drpc.ErrNotSocket):
		return fmt.Errorf("%s exists and is not a socket: remove it, or choose another --socket", socket)
	case errors.Is(err, drpc.ErrBadSocketPath) && len(socket) > drpc.MaxSocketPathLen:
		return usage(fmt.Errorf("--socket %s is longer than the %d bytes the kernel accepts: use a shorter path", socket, drpc.MaxSocketPathLen))
	case errors.Is(err, drpc.ErrBadSocketPath):
		return fmt.Errorf("the directory %s does not exist: create it, or choose another --socket", filepath.Dir(socket))
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("permission denied creating %s: choose a directory this user may write, or run as its owner", socket)
	}
	return fmt.Errorf("serve-echo on %s: %w", socket, err)
}
