package server

import (
	"context"
	"io"
	"net"
	"time"

	"github.com/cc532012/drpc/daemon/lifecycle"
)

// ShutdownTimeout is how long Run lets the shutdown take after SIGINT or
// SIGTERM (preparing the engines, then the calls in flight) before it cuts
// calls off.
const ShutdownTimeout = 15 * time.Second

// RunOptions are Options plus what only the command line needs.
type RunOptions struct {
	Options
	// Stdout receives one line with the metrics URL when the endpoint is
	// on, so that scripts (and tests) learn the port; nil prints nothing.
	Stdout io.Writer
	// Ready, if set, is called once the server serves (after READY=1).
	Ready func(*Server)
}

// Run runs a server until ctx ends or SIGINT or SIGTERM arrives, as
// lifecycle.Run does: it takes the socket systemd passed, if the server was
// socket-activated and opts.Listener is nil; starts the server; tells
// systemd READY=1; re-reads the management service's TLS files on SIGUSR2;
// and on a stop signal tells systemd STOPPING=1 and shuts
// down: every ready engine is prepared for shutdown (218), calls in flight
// finish, the socket is removed. It returns nil after a clean stop.
func Run(ctx context.Context, cfg Config, opts RunOptions) error {
	return lifecycle.Run(ctx, func(ln *net.UnixListener) (*Server, error) {
		o := opts.Options
		o.Listener = ln
		return New(cfg, o)
	}, lifecycle.Options[*Server]{
		Name:            "server",
		Logger:          opts.Logger,
		Listener:        opts.Listener,
		Serving:         "engines",
		StoppingStatus:  "preparing engines for shutdown",
		ShutdownTimeout: ShutdownTimeout,
		Reload:          (*Server).Reload,
		Stdout:          opts.Stdout,
		Ready:           opts.Ready,
	})
}
