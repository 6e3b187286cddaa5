package host

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/cc532012/drpc/daemon/sdnotify"
	"github.com/cc532012/drpc/daemon/signals"
)

// DefaultShutdownTimeout bounds the stop of Run: calls still in flight
// then are cut off.
const DefaultShutdownTimeout = 10 * time.Second

// RunOptions are what Run needs besides the host. The zero value is the
// default.
type RunOptions struct {
	// Stdout receives one line, "metrics: URL", when the daemon has a
	// metrics endpoint, so that scripts (and tests) learn its port; nil
	// prints nothing.
	Stdout io.Writer
	// ShutdownTimeout bounds the stop; 0 means DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// Ready, if set, is called once the daemon serves (after READY=1).
	Ready func()
}

// Run runs the daemon of h until ctx ends or SIGINT or SIGTERM arrives: it
// starts it (Start), prints its metrics URL, tells systemd READY=1, runs
// Hooks.Reload on SIGUSR2 (logging its error; the daemon keeps serving as
// it was), and on a stop tells systemd STOPPING=1 and shuts the daemon
// down within the shutdown timeout. It returns nil after a clean stop, the
// error of Start as it is (it says what to fix), and a failed shutdown as
// "NAME shutdown: ...".
func Run(ctx context.Context, h *Host, opts RunOptions) error {
	name := h.spec.Name
	sigOpts := signals.Options{Logger: h.log}
	if reload := h.spec.Hooks.Reload; reload != nil {
		sigOpts.Reload = func() {
			if err := reload(); err != nil {
				h.log.Error("reload failed", "err", err)
			}
		}
	}
	ctx, stop := signals.Handle(ctx, sigOpts)
	defer stop()

	if err := h.Start(ctx); err != nil {
		return err
	}
	if url := h.MetricsURL(); url != "" && opts.Stdout != nil {
		fmt.Fprintf(opts.Stdout, "metrics: %s\n", url)
	}
	status := "serving on " + h.SocketPath()
	if h.spec.Serving != "" {
		status = "serving " + h.spec.Serving + " on " + h.SocketPath()
	}
	if err := sdnotify.Ready(status); err != nil {
		h.log.Warn("cannot tell systemd that the "+name+" is ready", "err", err)
	}
	if opts.Ready != nil {
		opts.Ready()
	}

	<-ctx.Done()
	if sig, ok := signals.Cause(ctx); ok {
		h.log.Info(name+" stopping", "signal", sig.String())
	} else {
		h.log.Info(name + " stopping")
	}
	if err := sdnotify.Stopping("stopping"); err != nil {
		h.log.Warn("cannot tell systemd that the "+name+" is stopping", "err", err)
	}
	timeout := opts.ShutdownTimeout
	if timeout <= 0 {
		timeout = DefaultShutdownTimeout
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := h.Shutdown(sctx); err != nil {
		return fmt.Errorf("%s shutdown: %w", name, err)
	}
	h.log.Info(name + " stopped")
	return nil
}
