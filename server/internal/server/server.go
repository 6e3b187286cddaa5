package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	authv1drpc "github.com/cc532012/drpc/api/auth/v1"
	controlv1drpc "github.com/cc532012/drpc/api/control/v1"
	srvv1drpc "github.com/cc532012/drpc/api/srv/v1"
	"github.com/cc532012/drpc/daemon/metrics"
	"github.com/cc532012/drpc/daemon/rundir"
	"github.com/cc532012/drpc/daemon/version"
	"github.com/cc532012/drpc/drpc"
	controlv1 "github.com/cc532012/drpc/proto/drpc/control/v1"
	"github.com/cc532012/drpc/server/internal/control"
	"github.com/cc532012/drpc/server/internal/engine"
	"github.com/cc532012/drpc/server/internal/security"
	"github.com/cc532012/drpc/server/internal/srv"
)

// Options are what a server needs besides its Config.
type Options struct {
	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger
	// Listener is a listening AF_UNIX SOCK_SEQPACKET socket to serve instead
	// of creating SocketDir/daos_server.sock: the socket systemd passed
	// (socket activation), or a test's. The server never removes its file.
	Listener *net.UnixListener
	// Policy is how calls to engines are retried; its AttemptTimeout and
	// CallTimeout come from the Config when zero.
	Policy engine.Policy
}

// Server is a running (or ready to run) drpc-server. Make one with New, then
// Start it and Shutdown it; Run does all of it for the command line.
type Server struct {
	cfg Config
	log *slog.Logger
	ln  *net.UnixListener

	registry *engine.Registry
	caller   *engine.Caller // the registry's; closed after it
	srvSvc   *srv.Service
	sec      *security.Service
	ctl      *control.Service

	mu         sync.Mutex
	srv        *drpc.DomainSocketServer
	endpoint   *metrics.Endpoint
	createdDir bool
	stopped    bool

	started atomic.Pointer[time.Time] // when Start succeeded; read by the control module
}

// New checks cfg and prepares the modules. It creates nothing on disk and
// starts nothing: a configuration problem leaves nothing behind.
func New(cfg Config, opts Options) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(cfg.SocketDir)
	if err != nil {
		return nil, fmt.Errorf("socket_dir: %w", err)
	}
	cfg.SocketDir = dir
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	policy := opts.Policy
	if policy.AttemptTimeout == 0 {
		policy.AttemptTimeout = cfg.AttemptTimeout.Std()
	}
	if policy.CallTimeout == 0 {
		policy.CallTimeout = cfg.CallTimeout.Std()
	}
	s := &Server{cfg: cfg, log: log, ln: opts.Listener}
	s.caller = engine.NewCaller(engine.CallerOptions{Policy: policy, Logger: log})
	s.registry = engine.NewRegistry(engine.Options{
		Caller:       s.caller,
		Ranks:        cfg.ranks(),
		PingInterval: cfg.PingInterval.Std(),
		CallTimeout:  cfg.CallTimeout.Std(),
		Logger:       log,
	})
	s.srvSvc = srv.New(srv.Options{
		SocketDir:    cfg.SocketDir,
		ServerSocket: s.SocketPath(),
		Indexes:      cfg.indexes(),
		Registry:     s.registry,
		Events:       srv.NewEvents(cfg.MaxEvents),
		Logger:       log,
	})
	s.sec = security.New(security.Options{
		KeysDir:       cfg.KeysDir,
		AllowInsecure: cfg.AllowInsecure,
		MaxAge:        cfg.CredentialMaxAge.Std(),
		Logger:        log,
	})
	s.ctl = control.New(control.Options{
		Engines: s.registry.Statuses,
		Events:  s.srvSvc.Events(),
		Server:  s.serverStatus,
		UID:     -1,
	})
	return s, nil
}

// serverStatus describes the server for the control module.
func (s *Server) serverStatus() *controlv1.ServerStatus {
	st := &controlv1.ServerStatus{
		Pid:       int32(os.Getpid()),
		Socket:    s.SocketPath(),
		SocketDir: s.cfg.SocketDir,
		Version:   version.Read().Main.Version,
	}
	if t := s.started.Load(); t != nil {
		st.Started = timestamppb.New(*t)
	}
	return st
}

// Methods are the methods the server serves, for the metrics' zero series.
func Methods() []drpc.Method {
	return []drpc.Method{
		srvv1drpc.SrvServiceNotifyReadyMethod,
		srvv1drpc.SrvServiceClusterEventMethod,
		authv1drpc.SecurityServiceValidateCredentialsMethod,
		controlv1drpc.ControlServiceGetStatusMethod,
	}
}

// Start makes the server serve, in the order of DAOS's server: it checks the
// socket directory (creating it only if it is the default one), removes the
// previous run's sockets (daos_server.sock and daos_engine*.sock, if stale;
// a live server is an error naming it), binds the metrics endpoint if one is
// configured, registers the modules and listens on daos_server.sock with mode
// 0600 (or serves the inherited listener). When it returns nil the socket
// accepts connections. If Start fails, it undoes what it did.
//
// ctx only bounds the start: the server serves until Shutdown.
func (s *Server) Start(ctx context.Context) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil || s.stopped {
		return drpc.ErrServerStarted
	}

	isDefault := s.cfg.SocketDir == DefaultConfig().SocketDir
	created, err := checkSocketDir(s.cfg.SocketDir, isDefault, func(dir string) (bool, error) {
		return rundir.Ensure(dir, SocketDirMode)
	})
	if err != nil {
		return err
	}
	s.createdDir = created
	defer func() {
		if err != nil {
			s.removeDir()
		}
	}()
	skip := ""
	if s.ln != nil {
		skip = s.ln.Addr().String()
	}
	if _, err := cleanSocketDir(s.cfg.SocketDir, skip, s.log); err != nil {
		return err
	}
	if st, err := os.Stat(s.cfg.KeysDir); err != nil || !st.IsDir() {
		s.log.Warn("keys directory is missing or not a directory: every signed credential will be refused (unknown origin)", "keys_dir", s.cfg.KeysDir)
	}

	opts := []drpc.ServerOption{drpc.WithLogger(s.log), drpc.WithSocketMode(SocketMode)}
	if s.cfg.MetricsAddr != "" {
		col := metrics.New(metrics.Options{})
		col.AddMethods(Methods()...)
		reg, err := metrics.NewRegistry(col)
		if err != nil {
			return err
		}
		ep, err := metrics.Listen(s.cfg.MetricsAddr, reg, s.log)
		if err != nil {
			return err
		}
		s.endpoint = ep
		defer func() {
			if err != nil {
				_ = ep.Shutdown(context.Background())
				s.endpoint = nil
			}
		}()
		opts = append(opts, drpc.WithStats(col))
	}

	var ds *drpc.DomainSocketServer
	if s.ln != nil {
		ds, err = drpc.NewDomainSocketServerFromListener(s.ln, opts...)
		if err != nil {
			return fmt.Errorf("socket activation: %w", err)
		}
	} else {
		ds, err = drpc.NewDomainSocketServer(s.cfg.SocketPath(), opts...)
		if err != nil {
			return fmt.Errorf("server socket: %w", err)
		}
	}
	for _, m := range []drpc.Module{s.srvSvc.Module(), s.sec.Module(), s.ctl.Module()} {
		if err := ds.RegisterRPCModule(m); err != nil {
			return fmt.Errorf("register module %s: %w", m, err)
		}
	}
	// The transport stops at once when the context given to Start ends;
	// the server stops with Shutdown, which lets calls finish.
	if err := ds.Start(context.WithoutCancel(ctx)); err != nil {
		switch {
		case errors.Is(err, drpc.ErrSocketInUse):
			return socketInUse(s.cfg.SocketPath())
		case errors.Is(err, drpc.ErrNotSocket):
			return fmt.Errorf("server socket: %w: remove that file, or choose another --socket-dir", err)
		}
		return fmt.Errorf("server socket: %w", err)
	}
	s.srv = ds
	now := time.Now()
	s.started.Store(&now)
	s.log.Info("server serving", "socket", ds.SocketPath(), "socket_dir", s.cfg.SocketDir, "keys_dir", s.cfg.KeysDir,
		"engines", len(s.cfg.Engines), "activated", s.ln != nil, "allow_insecure", s.cfg.AllowInsecure)
	if s.cfg.AllowInsecure {
		s.log.Warn("the server accepts insecure (digest-only) credentials (allow_insecure): they prove nothing")
	}
	s.cfg.logStartNotes(s.log)
	return nil
}

// SocketPath returns the socket the server serves.
func (s *Server) SocketPath() string {
	if s.ln != nil {
		return s.ln.Addr().String()
	}
	return s.cfg.SocketPath()
}

// Config returns the server's configuration (socket_dir made absolute).
func (s *Server) Config() Config { return s.cfg }

// MetricsURL returns the URL of the metrics endpoint, or "" if there is none.
func (s *Server) MetricsURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.endpoint == nil {
		return ""
	}
	return s.endpoint.URL()
}

// Engines returns a snapshot of the engines that notified ready.
func (s *Server) Engines() []engine.Status { return s.registry.Statuses() }

// Events returns the last n events received (all kept if n < 1).
func (s *Server) Events(n int) []srv.Event {
	events, _ := s.srvSvc.Events().Last(n)
	return events
}

// Shutdown stops the server: it prepares every ready engine for shutdown
// (method 218; an engine that does not answer is logged), stops accepting
// connections, lets calls in flight finish until ctx ends, removes the
// socket (never an inherited one) and the socket directory if Start created
// it and it is empty, and stops the metrics endpoint.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	if err := s.registry.Shutdown(ctx); err != nil {
		s.log.Warn("some engines were not prepared for shutdown", "err", err)
	}
	_ = s.caller.Close() // the sessions to the engines
	var errs []error
	if s.srv != nil {
		if err := s.srv.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if s.endpoint != nil {
		if err := s.endpoint.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	s.removeDir()
	return errors.Join(errs...)
}

// removeDir removes the socket directory if Start created it and it is
// empty.
func (s *Server) removeDir() {
	if s.createdDir {
		if err := os.Remove(s.cfg.SocketDir); err == nil {
			s.createdDir = false
		}
	}
}
