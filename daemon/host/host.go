package host

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"

	"github.com/cc532012/drpc/daemon/activation"
	"github.com/cc532012/drpc/daemon/metrics"
	"github.com/cc532012/drpc/daemon/rundir"
	"github.com/cc532012/drpc/drpc"
)

// Spec is what a daemon tells its host: its name, its socket, the modules
// it serves and its own start and stop hooks. Everything else (the runtime
// directory and its checks, the listener, the limits, the metrics endpoint,
// the start, the stop and the signals) is the host's, the same for every
// daemon.
type Spec struct {
	// Name names the daemon in logs and errors ("agent", "server").
	Name string
	// Serving says what it serves, for the status line systemd shows:
	// "serving credentials on SOCKET".
	Serving string
	// Dir is the runtime directory, where the socket is.
	Dir string
	// DirFlag names the flag and key that set Dir, for the advice of
	// errors: "--runtime-dir (runtime_dir)".
	DirFlag string
	// CreateDir lets the host create Dir, and missing directories above
	// it, when it is missing (with DirMode; the others 0755); Shutdown
	// removes what it created. Otherwise a missing Dir is an error.
	CreateDir bool
	// DirMode is the mode of a Dir the host creates.
	DirMode os.FileMode
	// SocketName is the socket's file name in Dir.
	SocketName string
	// SocketMode is the socket file's mode.
	SocketMode os.FileMode
	// Modules are the dRPC modules the daemon serves.
	Modules []drpc.Module
	// Common are the daemon's common configuration keys.
	Common Common
	// Logger receives the daemon's logs; nil discards them.
	Logger *slog.Logger
	// Listener is a listening AF_UNIX SOCK_SEQPACKET socket to serve
	// instead of creating Dir/SocketName: a test's. With nil, the host
	// serves the socket systemd passed, if the daemon was socket-activated.
	// The host never removes an inherited socket's file.
	Listener *net.UnixListener
	// Hooks are the daemon's own steps of its start and stop.
	Hooks Hooks
}

// Hooks are a daemon's own steps of its start and stop, each optional. A
// start that fails undoes the steps before it, in reverse.
type Hooks struct {
	// Prepare runs once the runtime directory is checked, before the
	// socket is created: the server removes the previous run's sockets.
	Prepare func(ctx context.Context) error
	// Started runs once the socket serves.
	Started func(ctx context.Context) error
	// Stopping runs when the stop begins, while the socket still serves:
	// the server prepares its engines for shutdown.
	Stopping func(ctx context.Context) error
	// Stopped runs once the socket has stopped.
	Stopped func(ctx context.Context) error
	// Reload runs on SIGUSR2 (see Run).
	Reload func() error
}

// hostState is where a Host is in its life.
type hostState int

const (
	hostNew hostState = iota
	hostStarted
	hostStopped
)

// Host runs one daemon: make it with New, then Start and Shutdown it, or
// Run it.
type Host struct {
	spec Spec
	log  *slog.Logger

	life  sync.Mutex // serializes Start and Shutdown, which run the hooks
	state hostState  // under life
	made  rundir.Made

	mu        sync.Mutex // guards what the getters read
	srv       *drpc.DomainSocketServer
	endpoint  *metrics.Endpoint
	socket    string
	inherited bool
}

// New checks spec and returns its host. It creates nothing on disk.
func New(spec Spec) (*Host, error) {
	if spec.Name == "" || spec.SocketName == "" || (spec.Dir == "" && spec.Listener == nil) {
		return nil, errors.New("daemon host: the spec needs a name, a runtime directory and a socket name")
	}
	if err := spec.Common.Validate(); err != nil {
		return nil, err
	}
	if spec.Dir != "" {
		dir, err := filepath.Abs(spec.Dir)
		if err != nil {
			return nil, fmt.Errorf("%s: runtime directory %s: %w", spec.Name, spec.Dir, err)
		}
		spec.Dir = dir
	}
	log := spec.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Host{spec: spec, log: log, socket: filepath.Join(spec.Dir, spec.SocketName)}
	if spec.Listener != nil {
		h.socket, h.inherited = spec.Listener.Addr().String(), true
	}
	return h, nil
}

// Logger returns the daemon's logger.
func (h *Host) Logger() *slog.Logger { return h.log }

// SocketPath returns the socket the daemon serves.
func (h *Host) SocketPath() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.socket
}

// Inherited reports whether the daemon serves a socket it did not create
// (Spec.Listener, or systemd's), known once Start has begun: a Prepare
// hook must then leave that socket's file alone.
func (h *Host) Inherited() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.inherited
}

// MetricsURL returns the URL of the metrics endpoint, or "" if there is
// none.
func (h *Host) MetricsURL() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.endpoint == nil {
		return ""
	}
	return h.endpoint.URL()
}

// NumSessions returns the number of client connections open now.
func (h *Host) NumSessions() int {
	h.mu.Lock()
	srv := h.srv
	h.mu.Unlock()
	if srv == nil {
		return 0
	}
	return srv.NumSessions()
}

// Start makes the daemon serve. In order, it:
//   - takes the socket systemd passed, if the daemon was socket-activated
//     and Spec.Listener is nil;
//   - checks the runtime directory, creating it if allowed, and refuses one
//     that a user other than root and the daemon's could change, or any
//     directory above it (rundir.CheckSecure);
//   - runs Hooks.Prepare;
//   - binds the metrics endpoint, if metrics_addr is set;
//   - listens on the socket, with the configured limits and the modules,
//     refusing a socket where another process listens (ErrSocketInUse,
//     naming it);
//   - runs Hooks.Started.
//
// When it returns nil the socket accepts connections. If it fails, it
// undoes what it did. ctx bounds the start only: the daemon serves until
// Shutdown.
func (h *Host) Start(ctx context.Context) (err error) {
	h.life.Lock()
	defer h.life.Unlock()
	switch h.state {
	case hostStarted:
		return fmt.Errorf("%s: start: %w", h.spec.Name, drpc.ErrServerStarted)
	case hostStopped:
		return fmt.Errorf("%s: start: %w: make a new one", h.spec.Name, drpc.ErrServerClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: start: %w", h.spec.Name, err)
	}
	var undo []func()
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
	}()

	ln := h.spec.Listener
	if ln == nil {
		if ln, err = activation.Listener(); err != nil {
			return err
		}
		if ln != nil {
			undo = append(undo, func() { _ = ln.Close() })
		}
	}
	dir := h.spec.Dir
	if ln != nil {
		h.set(func() { h.socket, h.inherited = ln.Addr().String(), true })
		dir = filepath.Dir(ln.Addr().String())
	} else {
		made, err := h.ensureDir()
		if err != nil {
			return err
		}
		h.made = made
		undo = append(undo, func() { h.made.Remove(); h.made = nil })
	}
	if err := rundir.CheckSecure(dir); err != nil {
		return fmt.Errorf("%s: %w; or give another %s", h.spec.Name, err, h.spec.DirFlag)
	}
	if hook := h.spec.Hooks.Prepare; hook != nil {
		if err := hook(ctx); err != nil {
			return err
		}
	}

	opts := []drpc.ServerOption{
		drpc.WithLogger(h.log),
		drpc.WithSocketMode(h.spec.SocketMode),
		drpc.WithLimits(h.spec.Common.Limits.transport()),
		drpc.WithMaxMessageSize(int(h.spec.Common.Limits.MaxMessageSize)),
	}
	if addr := h.spec.Common.MetricsAddr; addr != "" {
		col := metrics.New(metrics.Options{})
		for _, m := range h.spec.Modules {
			if l, ok := m.(drpc.MethodLister); ok {
				col.AddMethods(l.Methods()...)
			}
		}
		reg, err := metrics.NewRegistry(col)
		if err != nil {
			return err
		}
		ep, err := metrics.Listen(addr, reg, h.log)
		if err != nil {
			return err
		}
		h.set(func() { h.endpoint = ep })
		undo = append(undo, func() { _ = ep.Shutdown(context.Background()); h.set(func() { h.endpoint = nil }) })
		opts = append(opts, drpc.WithStats(col))
	}

	var srv *drpc.DomainSocketServer
	if ln != nil {
		srv, err = drpc.NewDomainSocketServerFromListener(ln, opts...)
	} else {
		srv, err = drpc.NewDomainSocketServer(h.SocketPath(), opts...)
	}
	if err != nil {
		return fmt.Errorf("%s socket: %w", h.spec.Name, err)
	}
	for _, m := range h.spec.Modules {
		if err := srv.RegisterRPCModule(m); err != nil {
			return fmt.Errorf("%s: %w", h.spec.Name, err)
		}
	}
	if err := srv.Start(ctx); err != nil {
		return h.listenError(err)
	}
	undo = append(undo, func() { _ = srv.Shutdown(context.Background()); h.set(func() { h.srv = nil }) })
	h.set(func() { h.srv = srv })
	if hook := h.spec.Hooks.Started; hook != nil {
		if err := hook(ctx); err != nil {
			return err
		}
	}
	h.state = hostStarted
	h.log.Info(h.spec.Name+" serving", "socket", srv.SocketPath(), "activated", ln != nil, "metrics", h.MetricsURL())
	return nil
}

// set changes what the getters read.
func (h *Host) set(f func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f()
}

// ensureDir checks the runtime directory, or creates it if the spec allows
// it, and returns what it created.
func (h *Host) ensureDir() (rundir.Made, error) {
	dir := h.spec.Dir
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) && !h.spec.CreateDir {
		return nil, fmt.Errorf("%s: runtime directory %s does not exist: create it (install -d -m %04o %s) or give another %s: %w",
			h.spec.Name, dir, h.spec.DirMode.Perm(), dir, h.spec.DirFlag, err)
	}
	made, err := rundir.Ensure(dir, h.spec.DirMode)
	if err != nil {
		return nil, fmt.Errorf("%s: %w; or give another %s", h.spec.Name, err, h.spec.DirFlag)
	}
	return made, nil
}

// listenError explains why the socket could not be created.
func (h *Host) listenError(err error) error {
	switch {
	case errors.Is(err, drpc.ErrSocketInUse):
		return socketInUse(h.spec.Name, h.SocketPath(), h.spec.DirFlag, err)
	case errors.Is(err, drpc.ErrNotSocket):
		return fmt.Errorf("%s socket: %w: remove that file, or give another %s", h.spec.Name, err, h.spec.DirFlag)
	}
	return fmt.Errorf("%s socket: %w", h.spec.Name, err)
}

// Shutdown stops the daemon: it runs Hooks.Stopping, stops the socket (the
// transport's Shutdown: calls that have not started are refused, calls in
// flight finish until ctx ends), runs Hooks.Stopped, stops the metrics
// endpoint and removes the runtime directory if Start created it and it is
// empty, and never an inherited socket's file. Calling it again does
// nothing.
func (h *Host) Shutdown(ctx context.Context) error {
	h.life.Lock()
	defer h.life.Unlock()
	if h.state != hostStarted {
		h.state = hostStopped
		return nil
	}
	h.state = hostStopped
	var errs []error
	if hook := h.spec.Hooks.Stopping; hook != nil {
		if err := hook(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	h.mu.Lock()
	srv, ep := h.srv, h.endpoint
	h.mu.Unlock()
	if err := srv.Shutdown(ctx); err != nil {
		errs = append(errs, err)
	}
	if hook := h.spec.Hooks.Stopped; hook != nil {
		if err := hook(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if ep != nil {
		if err := ep.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
		h.set(func() { h.endpoint = nil })
	}
	h.made.Remove()
	h.made = nil
	return errors.Join(errs...)
}
