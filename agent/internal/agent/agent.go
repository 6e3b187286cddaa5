package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"sync"

	"github.com/cc532012/drpc/agent/internal/secagent"
	authv1drpc "github.com/cc532012/drpc/api/auth/v1"
	"github.com/cc532012/drpc/daemon/metrics"
	"github.com/cc532012/drpc/daemon/rundir"
	"github.com/cc532012/drpc/drpc"
	"github.com/cc532012/drpc/drpc/auth"
)

// Options are what an agent needs besides its Config.
type Options struct {
	// Logger receives the agent's logs; nil discards them.
	Logger *slog.Logger
	// Listener is a listening AF_UNIX SOCK_SEQPACKET socket to serve instead
	// of creating RuntimeDir/daos_agent.sock: the socket systemd passed
	// (socket activation), or a test's. The agent never removes its file.
	Listener *net.UnixListener
}

// Agent is a running (or ready to run) drpc-agent. Make one with New, then
// Start it and Shutdown it; Run does all of it for the command line.
type Agent struct {
	cfg  Config
	log  *slog.Logger
	svc  *secagent.Service
	mgmt *mgmt // module 2: attach info and the process monitor
	ln   *net.UnixListener

	mu         sync.Mutex // serializes Reload
	srv        *drpc.DomainSocketServer
	endpoint   *metrics.Endpoint
	createdDir bool
}

// New checks cfg, loads the signing key and prepares the security agent
// module. It creates nothing on disk: a configuration or key problem leaves
// nothing behind. The errors name the key or file at fault and what to do.
func New(cfg Config, opts Options) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	signer, err := loadSigner(cfg)
	if err != nil {
		return nil, err
	}
	svc, err := secagent.New(secagent.Options{
		Signer:    signer,
		Origin:    cfg.Origin,
		CacheTTL:  cfg.cacheTTL(),
		CacheSize: cfg.CacheSize,
		UIDMap:    cfg.UIDMap,
		GIDMap:    cfg.GIDMap,
		Logger:    log,
	})
	if err != nil {
		return nil, err
	}
	m, err := newMgmt(cfg, log)
	if err != nil {
		return nil, err
	}
	return &Agent{cfg: cfg, log: log, svc: svc, mgmt: m, ln: opts.Listener}, nil
}

// loadSigner returns the signer of cfg's key, or the insecure signer if cfg
// has no key and allows that.
func loadSigner(cfg Config) (*auth.Signer, error) {
	if cfg.KeyFile == "" {
		if !cfg.AllowInsecure {
			return nil, fmt.Errorf("%w: make one with 'drpc-agent gen-key --type ed25519 --out /etc/drpc/agent.key' "+
				"and start with --key /etc/drpc/agent.key (key_file in the configuration); "+
				"or pass --allow-insecure to hand out unsigned credentials (for tests only)", ErrNoKey)
		}
		return auth.NewSigner(nil), nil
	}
	key, err := auth.LoadPrivateKey(cfg.KeyFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("signing key: %w: check --key (key_file), or make the key with 'drpc-agent gen-key --out %s'", err, cfg.KeyFile)
	}
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	if _, err := auth.KeyTypeOf(key); err != nil {
		return nil, fmt.Errorf("signing key %s: %w", cfg.KeyFile, err)
	}
	return auth.NewSigner(key), nil
}

// Start makes the agent serve: it binds the metrics endpoint if one is
// configured, creates the runtime directory if it is missing, and listens on
// the socket (or serves the inherited listener). When it returns nil the
// socket accepts connections. A socket where another agent listens is
// refused with an error that names the socket and that process. If Start
// fails, it undoes what it did.
//
// The agent serves until Shutdown, whatever becomes of ctx (its values are
// kept for the server's handlers).
func (a *Agent) Start(ctx context.Context) (err error) {
	var stats drpc.ServerOption
	if a.cfg.MetricsAddr != "" {
		col := metrics.New(metrics.Options{})
		col.AddMethods(authv1drpc.SecurityAgentServiceRequestCredentialsMethod)
		col.AddMethods(a.mgmt.methods()...)
		reg, err := metrics.NewRegistry(col)
		if err != nil {
			return err
		}
		ep, err := metrics.Listen(a.cfg.MetricsAddr, reg, a.log)
		if err != nil {
			return err
		}
		a.endpoint = ep
		stats = drpc.WithStats(col)
		defer func() {
			if err != nil {
				_ = ep.Shutdown(context.Background())
				a.endpoint = nil
			}
		}()
	}
	opts := []drpc.ServerOption{drpc.WithLogger(a.log), drpc.WithSocketMode(SocketMode)}
	if stats != nil {
		opts = append(opts, stats)
	}

	var srv *drpc.DomainSocketServer
	if a.ln != nil {
		srv, err = drpc.NewDomainSocketServerFromListener(a.ln, opts...)
		if err != nil {
			return fmt.Errorf("socket activation: %w", err)
		}
	} else {
		created, err := rundir.Ensure(a.cfg.RuntimeDir, RuntimeDirMode)
		if err != nil {
			return err
		}
		a.createdDir = created
		defer func() {
			if err != nil {
				a.removeDir()
			}
		}()
		srv, err = drpc.NewDomainSocketServer(a.cfg.SocketPath(), opts...)
		if err != nil {
			return fmt.Errorf("agent socket: %w", err)
		}
	}
	if err := srv.RegisterRPCModule(a.svc.Module()); err != nil {
		return err
	}
	if err := srv.RegisterRPCModule(a.mgmt.svc.Module()); err != nil {
		return err
	}
	// The server stops at once when the context given to Start ends; the
	// agent stops with Shutdown, which lets calls finish.
	if err := srv.Start(context.WithoutCancel(ctx)); err != nil {
		if errors.Is(err, drpc.ErrSocketInUse) {
			return socketInUse(a.cfg.SocketPath(), err)
		}
		if errors.Is(err, drpc.ErrNotSocket) {
			return fmt.Errorf("agent socket: %w: remove that file, or choose another --runtime-dir", err)
		}
		return fmt.Errorf("agent socket: %w", err)
	}
	a.srv = srv
	if err := a.mgmt.Start(ctx); err != nil {
		_ = srv.Shutdown(context.Background())
		a.srv = nil
		return err
	}
	a.log.Info("agent serving credentials", "socket", srv.SocketPath(), "origin", a.cfg.Origin,
		"key", string(a.svc.KeyType()), "cache_ttl", a.cfg.CacheTTL.String(), "activated", a.ln != nil)
	if a.svc.KeyType() == auth.KeyNone {
		a.log.Warn("agent runs without a signing key (allow_insecure): its credentials prove nothing")
	}
	return nil
}

// SocketPath returns the socket the agent serves.
func (a *Agent) SocketPath() string {
	if a.srv != nil {
		return a.srv.SocketPath()
	}
	if a.ln != nil {
		return a.ln.Addr().String()
	}
	return a.cfg.SocketPath()
}

// MetricsURL returns the URL of the metrics endpoint, or "" if there is none.
func (a *Agent) MetricsURL() string {
	if a.endpoint == nil {
		return ""
	}
	return a.endpoint.URL()
}

// Reload re-reads the signing key and empties the credential cache (on
// SIGUSR2), fetches the attach info again and re-reads the TLS files of the
// link to the servers. If the new key or a TLS file cannot be used, the
// agent keeps the old one and Reload returns why.
func (a *Agent) Reload() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	signer, err := loadSigner(a.cfg)
	if err != nil {
		return fmt.Errorf("reload: keeping the current key: %w", err)
	}
	if err := a.svc.Reload(signer, ""); err != nil {
		return fmt.Errorf("reload: keeping the current key: %w", err)
	}
	a.log.Info("agent reloaded: key read again, credential cache emptied", "key", string(signer.KeyType()))
	if err := a.mgmt.Reload(); err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	a.log.Info("agent reloaded: attach info fetched again, certificates read again")
	return nil
}

// Shutdown stops the agent: it stops accepting connections, lets calls in
// flight finish until ctx ends, removes the socket (never an inherited one)
// and the runtime directory if Start created it and it is empty, and stops
// the metrics endpoint.
func (a *Agent) Shutdown(ctx context.Context) error {
	var errs []error
	if a.srv != nil {
		if err := a.srv.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
		if err := a.mgmt.Stop(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if a.endpoint != nil {
		if err := a.endpoint.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	a.removeDir()
	return errors.Join(errs...)
}

// removeDir removes the runtime directory if Start created it and it is
// empty.
func (a *Agent) removeDir() {
	if a.createdDir {
		if err := os.Remove(a.cfg.RuntimeDir); err == nil {
			a.createdDir = false
		}
	}
}
