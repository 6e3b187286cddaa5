package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"sync"

	"github.com/cc532012/drpc/agent/internal/secagent"
	"github.com/cc532012/drpc/daemon/host"
	"github.com/cc532012/drpc/drpc"
	"github.com/cc532012/drpc/drpc/auth"
)

// Options are what an agent needs besides its Config.
type Options struct {
	// Logger receives the agent's logs; nil discards them.
	Logger *slog.Logger
	// Listener is a listening AF_UNIX SOCK_SEQPACKET socket to serve instead
	// of creating RuntimeDir/daos_agent.sock: a test's. Without it the agent
	// serves the socket systemd passed, if it was socket-activated. The
	// agent never removes an inherited socket's file.
	Listener *net.UnixListener
}

// Agent is a drpc-agent: the security agent module on a daemon host. Make
// one with New, then Start and Shutdown it (the host's), or give its Host
// to host.Run.
type Agent struct {
	*host.Host
	cfg  Config
	log  *slog.Logger
	svc  *secagent.Service
	mgmt *mgmt // module 2: attach info and the process monitor

	mu sync.Mutex // serializes Reload
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
		MaxAge:    cfg.CredentialMaxAge.Std(),
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
	a := &Agent{cfg: cfg, log: log, svc: svc, mgmt: m}
	a.Host, err = host.New(host.Spec{
		Name:       "agent",
		Serving:    "credentials",
		Dir:        cfg.RuntimeDir,
		DirFlag:    "--runtime-dir (runtime_dir)",
		CreateDir:  true,
		DirMode:    RuntimeDirMode,
		SocketName: SocketName,
		SocketMode: SocketMode,
		Modules:    []drpc.Module{svc.Module(), m.svc.Module()},
		Common:     cfg.Common,
		Logger:     log,
		Listener:   opts.Listener,
		Hooks:      host.Hooks{Started: a.started, Stopped: m.Stop, Reload: a.Reload},
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// started starts the link to the servers (module 2) and logs what the
// agent serves with, once its socket serves.
func (a *Agent) started(ctx context.Context) error {
	if err := a.mgmt.Start(ctx); err != nil {
		return err
	}
	a.log.Info("agent serving credentials", "socket", a.SocketPath(), "origin", a.cfg.Origin,
		"key", string(a.svc.KeyType()), "cache_ttl", a.cfg.CacheTTL.String())
	a.cfg.logStartNotes(a.log)
	if a.svc.KeyType() == auth.KeyNone {
		a.log.Warn("agent runs without a signing key (allow_insecure): its credentials prove nothing")
	}
	return nil
}

// loadSigner returns the signer of cfg's key, or the insecure signer if cfg
// has no key and allows that.
func loadSigner(cfg Config) (*auth.Signer, error) {
	if cfg.KeyFile == "" {
		if !cfg.AllowInsecure {
			return nil, fmt.Errorf("%w: make one with 'drpc-agent gen-key --out /etc/drpc/agent.key' (RSA, which DAOS servers verify too) "+
				"and start with --key /etc/drpc/agent.key (key_file in the configuration); "+
				"or pass --allow-insecure to hand out unsigned credentials (for tests only)", ErrNoKey)
		}
		return auth.NewSigner(nil), nil
	}
	key, err := auth.LoadPrivateKey(cfg.KeyFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("signing key: %w: check --key (key_file), or make the key with 'drpc-agent gen-key --out %s'", err, cfg.KeyFile)
	case errors.Is(err, auth.ErrMalformedKey):
		return nil, fmt.Errorf("signing key: %w: give --key (key_file) the private key file that 'drpc-agent gen-key --out FILE' wrote (FILE, not FILE.pub), "+
			"or make a new one with it and install FILE.pub on the servers", err)
	case err != nil:
		return nil, fmt.Errorf("signing key: %w", err)
	}
	if _, err := auth.KeyTypeOf(key); err != nil {
		return nil, fmt.Errorf("signing key %s: %w", cfg.KeyFile, err)
	}
	return auth.NewSigner(key), nil
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
