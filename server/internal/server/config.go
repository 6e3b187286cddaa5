package server

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/cc532012/drpc/daemon/cli"
	"github.com/cc532012/drpc/daemon/config"
	"github.com/cc532012/drpc/daemon/rundir"
	"github.com/cc532012/drpc/daemon/tlsconfig"
	"github.com/cc532012/drpc/server/internal/engine"
	"github.com/cc532012/drpc/server/internal/srv"
)

// Fixed names and defaults of the server.
const (
	// SocketDirName is the name of the default socket directory
	// (/var/run/daos_server as root, as DAOS).
	SocketDirName = "daos_server"
	// SocketName is the server's socket in its socket directory.
	SocketName = "daos_server.sock"
	// EngineSocketPattern matches the engines' sockets in the socket
	// directory (filepath.Match syntax), which start-up removes when stale.
	EngineSocketPattern = "daos_engine*.sock"
	// SocketMode lets only the server's user connect: the engines run as
	// that user, as with DAOS.
	SocketMode = 0o600
	// SocketDirMode is the mode of a socket directory the server creates.
	SocketDirMode = 0o755
	// DefaultKeysDir holds the public keys of trusted agents.
	DefaultKeysDir = "/etc/drpc/keys"
	// DefaultPingInterval is the time between two pings of an engine.
	DefaultPingInterval = engine.DefaultPingInterval
	// DefaultCallTimeout bounds set rank and prepare for shutdown,
	// retries included.
	DefaultCallTimeout = 5 * time.Second
	// DefaultAttemptTimeout bounds one attempt of a call to an engine.
	DefaultAttemptTimeout = time.Second
	// DefaultMaxEvents is how many RAS events the server keeps.
	DefaultMaxEvents = srv.DefaultMaxEvents
	// MaxMaxEvents bounds max_events.
	MaxMaxEvents = 100000
	// MinPingInterval bounds ping_interval from below.
	MinPingInterval = 10 * time.Millisecond
)

// EngineConfig is one engine the server accepts.
type EngineConfig struct {
	// Index is the engine's instance index (its --index).
	Index uint32 `yaml:"index"`
	// Rank is the rank the server gives the engine; nil means its index.
	Rank *uint32 `yaml:"rank,omitempty"`
}

// Config is the server's configuration: the YAML keys of its configuration
// file, which the flags of `drpc-server start` override.
type Config struct {
	// SocketDir holds the server's socket and the engines' sockets.
	SocketDir string `yaml:"socket_dir"`
	// KeysDir holds the public keys of trusted agents, "<origin>.pub".
	KeysDir string `yaml:"keys_dir"`
	// AllowInsecure accepts digest-only credentials (tests only).
	AllowInsecure bool `yaml:"allow_insecure"`
	// CredentialMaxAge refuses credentials older than it; 0 turns the check
	// off (as DAOS, whose agents write stamp 0).
	CredentialMaxAge config.Duration `yaml:"credential_max_age"`
	// Engines lists the engines the server accepts; empty accepts any
	// index, with rank = index.
	Engines []EngineConfig `yaml:"engines"`
	// PingInterval is the time between two pings of an engine.
	PingInterval config.Duration `yaml:"ping_interval"`
	// CallTimeout bounds set rank and prepare for shutdown, retries
	// included.
	CallTimeout config.Duration `yaml:"call_timeout"`
	// AttemptTimeout bounds how long one attempt of a call to an engine
	// waits for its reply; 0 means the whole call's time.
	AttemptTimeout config.Duration `yaml:"attempt_timeout"`
	// MaxEvents is how many RAS events the server keeps for status.
	MaxEvents int `yaml:"max_events"`
	// Name is the system name (DAOS: name), which agents ask for.
	Name string `yaml:"name"`
	// Port is the TCP port of the management service (gRPC, for the
	// agents); 0 picks a free port, which the log and the status show.
	Port int `yaml:"port"`
	// ListenAddress is the address the management service listens on;
	// empty means every address.
	ListenAddress string `yaml:"listen_address"`
	// Transport is the management service's TLS: mutual by default.
	Transport tlsconfig.ServerConfig `yaml:"transport_config"`
	// ClientNetHint is the network hint GetAttachInfo gives clients.
	ClientNetHint NetHintConfig `yaml:"client_net_hint"`
	// Common holds log_level, log_format and metrics_addr.
	cli.Common `yaml:",inline"`
}

// DefaultConfig returns the configuration the server runs with when neither
// a file nor a flag says otherwise.
func DefaultConfig() Config {
	return Config{
		SocketDir:      rundir.Default(SocketDirName),
		KeysDir:        DefaultKeysDir,
		Engines:        []EngineConfig{},
		PingInterval:   config.Duration(DefaultPingInterval),
		CallTimeout:    config.Duration(DefaultCallTimeout),
		AttemptTimeout: config.Duration(DefaultAttemptTimeout),
		MaxEvents:      DefaultMaxEvents,
		Name:           DefaultName,
		Port:           DefaultPort,
		Transport:      defaultTransport(),
		ClientNetHint:  defaultNetHint(),
		Common:         cli.DefaultCommon(),
	}
}

// SocketPath returns the server's socket: SocketDir/daos_server.sock.
func (c Config) SocketPath() string { return filepath.Join(c.SocketDir, SocketName) }

// Validate checks every value, with messages that name the key. It does not
// look at files (see Server.Start).
func (c Config) Validate() error {
	var errs []error
	if c.SocketDir == "" {
		errs = append(errs, errors.New("socket_dir: empty: give the directory for the server's and the engines' sockets"))
	}
	if c.KeysDir == "" {
		errs = append(errs, fmt.Errorf("keys_dir: empty: give the directory of the agents' public keys (default %s)", DefaultKeysDir))
	}
	if c.CredentialMaxAge < 0 {
		errs = append(errs, fmt.Errorf("credential_max_age: %v is negative: use 0 to turn the check off", c.CredentialMaxAge))
	}
	if c.PingInterval.Std() < MinPingInterval {
		errs = append(errs, fmt.Errorf("ping_interval: %v is below %v", c.PingInterval, MinPingInterval))
	}
	if c.CallTimeout <= 0 {
		errs = append(errs, fmt.Errorf("call_timeout: %v: want a positive duration such as 5s", c.CallTimeout))
	}
	if c.AttemptTimeout < 0 {
		errs = append(errs, fmt.Errorf("attempt_timeout: %v is negative: use 0 for no limit per attempt", c.AttemptTimeout))
	}
	if c.MaxEvents < 1 || c.MaxEvents > MaxMaxEvents {
		errs = append(errs, fmt.Errorf("max_events: %d is not between 1 and %d", c.MaxEvents, MaxMaxEvents))
	}
	indexes := make(map[uint32]bool)
	ranks := make(map[uint32]uint32)
	for i, e := range c.Engines {
		if indexes[e.Index] {
			errs = append(errs, fmt.Errorf("engines[%d]: index %d is listed twice", i, e.Index))
			continue
		}
		indexes[e.Index] = true
		rank := e.Index
		if e.Rank != nil {
			rank = *e.Rank
		}
		if other, ok := ranks[rank]; ok {
			errs = append(errs, fmt.Errorf("engines[%d]: rank %d of index %d is also the rank of index %d: give each engine its own rank", i, rank, e.Index, other))
			continue
		}
		ranks[rank] = e.Index
	}
	if err := c.validateMgmt(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Common.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// indexes returns the configured engine indexes.
func (c Config) indexes() []uint32 {
	out := make([]uint32, 0, len(c.Engines))
	for _, e := range c.Engines {
		out = append(out, e.Index)
	}
	return out
}

// ranks returns the configured ranks by index.
func (c Config) ranks() map[uint32]uint32 {
	out := make(map[uint32]uint32)
	for _, e := range c.Engines {
		if e.Rank != nil {
			out[e.Index] = *e.Rank
		}
	}
	return out
}
