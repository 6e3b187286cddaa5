package agent

import (
	"context"
	"io"
	"net"
	"time"

	"github.com/cc532012/drpc/daemon/lifecycle"
)

// ShutdownTimeout is how long Run lets calls in flight finish after SIGINT
// or SIGTERM before it cuts them off.
const ShutdownTimeout = 10 * time.Second

// RunOptions are Options plus what only the command line needs.
type RunOptions struct {
	Options
	// Stdout receives one line with the metrics URL when the endpoint is
	// on, so that scripts (and tests) learn the port; nil prints nothing.
	Stdout io.Writer
	// Ready, if set, is called once the agent serves (after READY=1).
	Ready func(*Agent)
}

// Run runs an agent until ctx ends or SIGINT or SIGTERM arrives, as
// lifecycle.Run does: it takes the socket systemd passed, if the agent was
// socket-activated and opts.Listener is nil; starts the agent; tells
// systemd READY=1; reloads on SIGUSR2; and on a stop signal tells systemd
// STOPPING=1 and shuts down, letting calls in flight finish (up to
// ShutdownTimeout). It returns nil after a clean stop.
func Run(ctx context.Context, cfg Config, opts RunOptions) error {
	return lifecycle.Run(ctx, func(ln *net.UnixListener) (*Agent, error) {
		o := opts.Options
		o.Listener = ln
		return New(cfg, o)
	}, lifecycle.Options[*Agent]{
		Name:            "agent",
		Logger:          opts.Logger,
		Listener:        opts.Listener,
		Serving:         "credentials",
		ShutdownTimeout: ShutdownTimeout,
		Reload:          (*Agent).Reload,
		Stdout:          opts.Stdout,
		Ready:           opts.Ready,
	})
}
