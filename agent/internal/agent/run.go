package agent

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/cc532012/drpc/daemon/activation"
	"github.com/cc532012/drpc/daemon/sdnotify"
	"github.com/cc532012/drpc/daemon/signals"
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

// Run runs an agent until ctx ends or SIGINT or SIGTERM arrives: it takes the
// socket systemd passed, if the agent was socket-activated and
// opts.Listener is nil; starts the agent; tells systemd READY=1; reloads on
// SIGUSR2; and on a stop signal tells systemd STOPPING=1 and shuts down,
// letting calls in flight finish (up to ShutdownTimeout). It returns nil
// after a clean stop.
func Run(ctx context.Context, cfg Config, opts RunOptions) error {
	if opts.Listener == nil {
		ln, err := activation.Listener()
		if err != nil {
			return err
		}
		opts.Listener = ln
	}
	a, err := New(cfg, opts.Options)
	if err != nil {
		if opts.Listener != nil {
			opts.Listener.Close()
		}
		return err
	}
	log := a.log
	ctx, stop := signals.Handle(ctx, signals.Options{
		Logger: log,
		Reload: func() {
			if err := a.Reload(); err != nil {
				log.Error("reload failed", "err", err)
			}
		},
	})
	defer stop()

	if err := a.Start(ctx); err != nil {
		if opts.Listener != nil {
			opts.Listener.Close()
		}
		return err
	}
	if url := a.MetricsURL(); url != "" && opts.Stdout != nil {
		fmt.Fprintf(opts.Stdout, "metrics: %s\n", url)
	}
	if err := sdnotify.Ready("serving credentials on " + a.SocketPath()); err != nil {
		log.Warn("cannot tell systemd that the agent is ready", "err", err)
	}
	if opts.Ready != nil {
		opts.Ready(a)
	}

	<-ctx.Done()
	if sig, ok := signals.Cause(ctx); ok {
		log.Info("agent stopping", "signal", sig.String())
	} else {
		log.Info("agent stopping")
	}
	if err := sdnotify.Stopping("stopping"); err != nil {
		log.Warn("cannot tell systemd that the agent is stopping", "err", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if err := a.Shutdown(sctx); err != nil {
		return fmt.Errorf("agent shutdown: %w", err)
	}
	log.Info("agent stopped")
	return nil
}
