package server

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/cc532012/drpc/daemon/activation"
	"github.com/cc532012/drpc/daemon/sdnotify"
	"github.com/cc532012/drpc/daemon/signals"
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

// Run runs a server until ctx ends or SIGINT or SIGTERM arrives: it takes the
// socket systemd passed, if the server was socket-activated and
// opts.Listener is nil; starts the server; tells systemd READY=1; and on a
// stop signal tells systemd STOPPING=1 and shuts down: every ready engine is
// prepared for shutdown (218), calls in flight finish, the socket is
// removed. It returns nil after a clean stop.
func Run(ctx context.Context, cfg Config, opts RunOptions) error {
	if opts.Listener == nil {
		ln, err := activation.Listener()
		if err != nil {
			return err
		}
		opts.Listener = ln
	}
	s, err := New(cfg, opts.Options)
	if err != nil {
		if opts.Listener != nil {
			opts.Listener.Close()
		}
		return err
	}
	log := s.log
	ctx, stop := signals.Handle(ctx, signals.Options{Logger: log})
	defer stop()

	if err := s.Start(ctx); err != nil {
		if opts.Listener != nil {
			opts.Listener.Close()
		}
		return err
	}
	if url := s.MetricsURL(); url != "" && opts.Stdout != nil {
		fmt.Fprintf(opts.Stdout, "metrics: %s\n", url)
	}
	if err := sdnotify.Ready("serving engines on " + s.SocketPath()); err != nil {
		log.Warn("cannot tell systemd that the server is ready", "err", err)
	}
	if opts.Ready != nil {
		opts.Ready(s)
	}

	<-ctx.Done()
	if sig, ok := signals.Cause(ctx); ok {
		log.Info("server stopping", "signal", sig.String())
	} else {
		log.Info("server stopping")
	}
	if err := sdnotify.Stopping("preparing engines for shutdown"); err != nil {
		log.Warn("cannot tell systemd that the server is stopping", "err", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if err := s.Shutdown(sctx); err != nil {
		return fmt.Errorf("server shutdown: %w", err)
	}
	log.Info("server stopped")
	return nil
}
