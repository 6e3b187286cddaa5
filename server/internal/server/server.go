package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cc532012/drpc/daemon/host"
	"github.com/cc532012/drpc/daemon/version"
	"github.com/cc532012/drpc/drpc"
	controlv1 "github.com/cc532012/drpc/proto/drpc/control/v1"
	"github.com/cc532012/drpc/server/internal/control"
	"github.com/cc532012/drpc/server/internal/engine"
	"github.com/cc532012/drpc/server/internal/mgmtsvc"
	"github.com/cc532012/drpc/server/internal/security"
	"github.com/cc532012/drpc/server/internal/srv"
)

// Options are what a server needs besides its Config.
type Options struct {
	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger
	// Listener is a listening AF_UNIX SOCK_SEQPACKET socket to serve instead
	// of creating SocketDir/daos_server.sock: a test's. Without it the
	// server serves the socket systemd passed, if it was socket-activated.
	// The server never removes an inherited socket's file.
	Listener *net.UnixListener
	// Policy is how calls to engines are retried; its AttemptTimeout and
	// CallTimeout come from the Config when zero.
	Policy engine.Policy
}

// ShutdownTimeout is how long the server's stop may take (preparing the
// engines, then the calls in flight) before calls are cut off: give it to
// host.Run.
const ShutdownTimeout = 15 * time.Second

// Server is a drpc-server: its modules (srv, security, control) and its
// engines on a daemon host. Make one with New, then Start and Shutdown it
// (the host's), or give its Host to host.Run.
type Server struct {
	*host.Host
	cfg Config
	log *slog.Logger

	registry *engine.Registry
	caller   *engine.Caller // the registry's; closed after it
	srvSvc   *srv.Service
	sec      *security.Service
	ctl      *control.Service
	mgmt     *mgmtsvc.Service  // the agents' gRPC service
	mgmtLn   *mgmtsvc.Listener // serves it

	live    []string                  // engine sockets found live at start-up, for adoption
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
	isDefault := cfg.SocketDir == DefaultConfig().SocketDir
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
	s := &Server{cfg: cfg, log: log}
	s.caller = engine.NewCaller(engine.CallerOptions{Policy: policy, Logger: log})
	s.registry = engine.NewRegistry(engine.Options{
		Caller:       s.caller,
		Ranks:        cfg.ranks(),
		PingInterval: cfg.PingInterval.Std(),
		CallTimeout:  cfg.CallTimeout.Std(),
		Logger:       log,
	})
	socket := cfg.SocketPath()
	if opts.Listener != nil {
		socket = opts.Listener.Addr().String()
	}
	s.srvSvc = srv.New(srv.Options{
		SocketDir:    cfg.SocketDir,
		ServerSocket: socket,
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
	if s.mgmt, s.mgmtLn, err = newMgmt(cfg, s.registry, s.caller, log); err != nil {
		return nil, err
	}
	s.ctl = control.New(control.Options{
		Engines:   s.registry.Statuses,
		Events:    s.srvSvc.Events(),
		Evictions: s.mgmt.Evictions(),
		Server:    s.serverStatus,
		UID:       -1,
	})
	s.Host, err = host.New(host.Spec{
		Name:       "server",
		Serving:    "engines",
		Dir:        cfg.SocketDir,
		DirFlag:    "--socket-dir (socket_dir)",
		CreateDir:  isDefault, // as DAOS: only the default directory is made
		DirMode:    SocketDirMode,
		SocketName: SocketName,
		SocketMode: SocketMode,
		Modules:    []drpc.Module{s.srvSvc.Module(), s.sec.Module(), s.ctl.Module()},
		Common:     cfg.Common,
		Logger:     log,
		Listener:   opts.Listener,
		Hooks: host.Hooks{
			Prepare:  s.prepare,
			Started:  s.serving,
			Stopping: s.stopping,
			Stopped:  s.stopped,
			Reload:   s.Reload,
		},
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// serverStatus describes the server for the control module.
func (s *Server) serverStatus() *controlv1.ServerStatus {
	st := &controlv1.ServerStatus{
		Pid:         int32(os.Getpid()),
		Socket:      s.SocketPath(),
		SocketDir:   s.cfg.SocketDir,
		Version:     version.Read().Main.Version,
		MgmtAddress: s.mgmtLn.Addr(),
		MgmtTls:     s.mgmtLn.TLS(),
		System:      s.cfg.Name,
	}
	if t := s.started.Load(); t != nil {
		st.Started = timestamppb.New(*t)
	}
	return st
}

// prepare runs before the socket is created, in the order of DAOS's
// server: it removes the previous run's sockets (daos_server.sock and
// daos_engine*.sock, if stale; a live server is an error naming it) and
// keeps the live engine sockets for adoption once the server serves.
func (s *Server) prepare(ctx context.Context) error {
	skip := ""
	if s.Inherited() {
		skip = s.SocketPath() // systemd's, or a test's
	}
	cleaned, err := cleanSocketDir(ctx, s.cfg.SocketDir, skip, s.log)
	if err != nil {
		return err
	}
	s.live = cleaned.Live
	if st, err := os.Stat(s.cfg.KeysDir); err != nil || !st.IsDir() {
		s.log.Warn("keys directory is missing or not a directory: every signed credential will be refused (unknown origin)", "keys_dir", s.cfg.KeysDir)
	}
	return nil
}

// serving starts the management service (once the socket serves, so that
// a busy or missing socket is reported before any TLS file trouble), logs
// how the server serves and adopts the engines whose sockets still answer
// (see adoptEngines).
func (s *Server) serving(ctx context.Context) error {
	if err := s.mgmtLn.Start(ctx); err != nil {
		return err
	}
	now := time.Now()
	s.started.Store(&now)
	s.log.Info("server serving", "socket", s.SocketPath(), "socket_dir", s.cfg.SocketDir, "keys_dir", s.cfg.KeysDir,
		"engines", len(s.cfg.Engines), "allow_insecure", s.cfg.AllowInsecure, "mgmt_address", s.mgmtLn.Addr())
	if s.cfg.AllowInsecure {
		s.log.Warn("the server accepts insecure (digest-only) credentials (allow_insecure): they prove nothing")
	}
	s.cfg.logStartNotes(s.log)
	adoptEngines(s.registry, s.live, s.cfg.indexes(), s.log) // engines that outlived the last server
	return nil
}

// stopping stops the management service and prepares every ready engine
// for shutdown (method 218) when the stop begins; an engine that does not
// answer is logged.
func (s *Server) stopping(ctx context.Context) error {
	if err := s.mgmtLn.Stop(ctx); err != nil {
		s.log.Warn("management service did not stop cleanly", "err", err)
	}
	if err := s.registry.Shutdown(ctx); err != nil {
		s.log.Warn("some engines were not prepared for shutdown", "err", err)
	}
	return nil
}

// stopped closes the sessions to the engines, once the socket no longer
// serves calls that could use them.
func (s *Server) stopped(context.Context) error {
	if err := s.caller.Close(); err != nil {
		s.log.Debug("closing the sessions to the engines", "err", err)
	}
	return nil
}

// Reload reads the management service's TLS files again (on SIGUSR2): new
// connections use them. If one cannot be used, the server keeps the ones it
// had and Reload says why.
func (s *Server) Reload() error { return s.mgmtLn.Reload() }

// MgmtAddr returns the address the management service listens on
// (HOST:PORT), or "" before Start.
func (s *Server) MgmtAddr() string { return s.mgmtLn.Addr() }

// Config returns the server's configuration (socket_dir made absolute).
func (s *Server) Config() Config { return s.cfg }

// Engines returns a snapshot of the engines that notified ready.
func (s *Server) Engines() []engine.Status { return s.registry.Statuses() }

// Events returns the last n events received (all kept if n < 1).
func (s *Server) Events(n int) []srv.Event {
	events, _ := s.srvSvc.Events().Last(n)
	return events
}
