package lifecycle

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/cc532012/drpc/daemon/activation"
	"github.com/cc532012/drpc/daemon/sdnotify"
	"github.com/cc532012/drpc/daemon/signals"
)

// Service is a daemon that Run drives.
type Service interface {
	// Start makes the service serve: when it returns nil, its socket
	// accepts connections. A Start that fails undoes what it did. The
	// context ends on a stop signal; the service serves until Shutdown
	// whatever becomes of it.
	Start(ctx context.Context) error
	// Shutdown stops the service, letting calls in flight finish until ctx
	// ends.
	Shutdown(ctx context.Context) error
	// SocketPath returns the socket the service serves.
	SocketPath() string
	// MetricsURL returns the URL of the service's metrics endpoint, or ""
	// if it has none.
	MetricsURL() string
}

// DefaultShutdownTimeout is the shutdown timeout when
// Options.ShutdownTimeout is zero.
const DefaultShutdownTimeout = 10 * time.Second

// Options configure Run for a service of type S. The zero value runs a
// service named "daemon" without reload.
type Options[S Service] struct {
	// Name names the daemon in logs and errors: "agent" logs "agent
	// stopping" and "agent stopped", and a failed shutdown is "agent
	// shutdown: ...". Empty means "daemon".
	Name string
	// Logger receives the lifecycle's records (the stop signal, failed
	// notifications and reloads); nil discards them. Give the service's
	// own logger.
	Logger *slog.Logger
	// Listener is a listening socket to serve instead of the one systemd
	// passed: with nil, Run takes systemd's (which is nil when the daemon
	// was not socket-activated). Either is handed to the constructor, and
	// closed by Run if the service cannot be built or started.
	Listener *net.UnixListener
	// Serving says what the service serves, for the status line sent to
	// systemd with READY=1: "serving <Serving> on <socket>" ("serving on
	// <socket>" when empty).
	Serving string
	// StoppingStatus is the status line sent to systemd with STOPPING=1;
	// empty means "stopping".
	StoppingStatus string
	// ShutdownTimeout bounds Shutdown after a stop: calls still in flight
	// then are cut off. Zero means DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// Reload, if not nil, runs on SIGUSR2 (one at a time). An error is
	// logged ("reload failed") and the service keeps serving as it was.
	// Without it, SIGUSR2 is logged and ignored.
	Reload func(S) error
	// Stdout receives one line, "metrics: URL", when the service has a
	// metrics endpoint, so that scripts (and tests) learn its port; nil
	// prints nothing.
	Stdout io.Writer
	// Ready, if not nil, is called once the service serves (after
	// READY=1), with the service.
	Ready func(S)
}

// Run runs a service until ctx ends or SIGINT or SIGTERM arrives: it takes
// the socket systemd passed (unless opts.Listener is set), builds the service
// with newService, handles signals, starts the service, prints its metrics
// URL, tells systemd READY=1, and on a stop tells systemd STOPPING=1 and
// shuts the service down within the shutdown timeout. It returns nil after
// a clean stop; the errors of activation, newService and Start as they are
// (they say what to fix); and a failed Shutdown as "NAME shutdown: ...".
func Run[S Service](ctx context.Context, newService func(ln *net.UnixListener) (S, error), opts Options[S]) error {
	name := opts.Name
	if name == "" {
		name = "daemon"
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln := opts.Listener
	if ln == nil {
		var err error
		if ln, err = activation.Listener(); err != nil {
			return err
		}
	}
	closeListener := func() {
		if ln != nil {
			_ = ln.Close()
		}
	}
	svc, err := newService(ln)
	if err != nil {
		closeListener()
		return err
	}

	sigOpts := signals.Options{Logger: log}
	if opts.Reload != nil {
		sigOpts.Reload = func() {
			if err := opts.Reload(svc); err != nil {
				log.Error("reload failed", "err", err)
			}
		}
	}
	ctx, stop := signals.Handle(ctx, sigOpts)
	defer stop()

	if err := svc.Start(ctx); err != nil {
		closeListener()
		return err
	}
	if url := svc.MetricsURL(); url != "" && opts.Stdout != nil {
		fmt.Fprintf(opts.Stdout, "metrics: %s\n", url)
	}
	if err := sdnotify.Ready(readyStatus(opts.Serving, svc.SocketPath())); err != nil {
		log.Warn("cannot tell systemd that the "+name+" is ready", "err", err)
	}
	if opts.Ready != nil {
		opts.Ready(svc)
	}

	<-ctx.Done()
	if sig, ok := signals.Cause(ctx); ok {
		log.Info(name+" stopping", "signal", sig.String())
	} else {
		log.Info(name + " stopping")
	}
	stopping := opts.StoppingStatus
	if stopping == "" {
		stopping = "stopping"
	}
	if err := sdnotify.Stopping(stopping); err != nil {
		log.Warn("cannot tell systemd that the "+name+" is stopping", "err", err)
	}
	timeout := opts.ShutdownTimeout
	if timeout <= 0 {
		timeout = DefaultShutdownTimeout
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := svc.Shutdown(sctx); err != nil {
		return fmt.Errorf("%s shutdown: %w", name, err)
	}
	log.Info(name + " stopped")
	return nil
}

// readyStatus is the status line sent with READY=1.
func readyStatus(serving, socket string) string {
	if serving == "" {
		return "serving on " + socket
	}
	return "serving " + serving + " on " + socket
}
