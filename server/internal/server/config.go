package server

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/cc532012/drpc/daemon/config"
	"github.com/cc532012/drpc/daemon/host"
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

// What the server knows of agents, for the warnings about
// credential_max_age (the agent module is not a dependency of this one).
const (
	// DefaultAgentCacheTTL is drpc-agent's default cache_ttl: an agent with
	// default settings may hand out a credential signed up to this long ago.
	DefaultAgentCacheTTL = time.Minute
	// CredentialPresentSlack is the time the rule allows a client between
	// getting a credential and the server's check of it.
	CredentialPresentSlack = time.Minute
	// MinCredentialMaxAge is the smallest credential_max_age that suits
	// agents with default settings: DefaultAgentCacheTTL plus
	// CredentialPresentSlack. A smaller one works only with agents told
	// the same credential_max_age.
	MinCredentialMaxAge = DefaultAgentCacheTTL + CredentialPresentSlack
	// MinWorkableMaxAge is the smallest credential_max_age that can work at
	// all: stamps are whole seconds, so a credential may look a second old
	// when it is issued.
	MinWorkableMaxAge = 2 * time.Second
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
	SocketDir string `yaml:"socket_dir" flag:"socket-dir" usage:"'DIR' of the server's socket (DIR/daos_server.sock) and of the engines' sockets"`
	// KeysDir holds the public keys of trusted agents, "<origin>.pub", or
	// their certificates, "<origin>.crt" (as DAOS's client certificates
	// directory); it and its keys must be owned by root or the server's
	// user and not writable by others.
	KeysDir string `yaml:"keys_dir" flag:"keys-dir" usage:"'DIR' of the keys of trusted agents, <origin>.pub or <origin>.crt"`
	// AllowInsecure accepts digest-only credentials (tests only).
	AllowInsecure bool `yaml:"allow_insecure"`
	// CredentialMaxAge refuses credentials older than it; 0 turns the check
	// off (as DAOS, whose agents write stamp 0). It must be at least the
	// agents' cache_ttl plus the time a client takes to present a
	// credential (MinCredentialMaxAge with agents' defaults), or the
	// agents must be given the same credential_max_age (see Warnings).
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
	Port int `yaml:"port" flag:"port" usage:"TCP 'PORT' of the management service (gRPC, for the agents; 0: any free port)"`
	// ListenAddress is the address the management service listens on;
	// empty means every address.
	ListenAddress string `yaml:"listen_address" flag:"listen-address" usage:"'ADDRESS' the management service listens on (empty: every address)"`
	// Transport is the management service's TLS: mutual by default.
	Transport tlsconfig.ServerConfig `yaml:"transport_config"`
	// ClientNetHint is the network hint GetAttachInfo gives clients.
	ClientNetHint NetHintConfig `yaml:"client_net_hint"`
	// Common holds log_level, log_format, metrics_addr and limits.
	host.Common `yaml:",inline"`
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
		Common:         host.DefaultCommon(),
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

// Warnings returns what the server should warn about at start-up: values
// that Validate accepts but that cannot work with the agents as they are
// configured by default. The server cannot know the agents' settings, so
// each warning says what to check there.
func (c Config) Warnings() []string {
	var w []string
	switch age := c.CredentialMaxAge.Std(); {
	case age <= 0:
	case age < MinWorkableMaxAge:
		w = append(w, fmt.Sprintf("credential_max_age %v cannot work: credentials are stamped in whole seconds, so a fresh one may already look a second old and be refused as expired (-1011); use at least %v (%v or more with agents' default cache_ttl)",
			age, MinWorkableMaxAge, MinCredentialMaxAge))
	case age < MinCredentialMaxAge:
		w = append(w, fmt.Sprintf("credential_max_age %v is shorter than an agent's default cache_ttl (%v) plus %v for a client to present its credential: agents with default settings hand out credentials that this server refuses as expired (-1011); raise credential_max_age to %v or more, or set credential_max_age: %v in every agent's configuration too (an agent then signs anew before a credential is half that old)",
			age, DefaultAgentCacheTTL, CredentialPresentSlack, MinCredentialMaxAge, age))
	}
	return w
}

// ReplayMode says how the server treats a credential presented again
// later (a replay), for its start-up log: "off: ..." with
// credential_max_age 0 (DAOS's behaviour), "on: ..." otherwise.
func (c Config) ReplayMode() string {
	if c.CredentialMaxAge <= 0 {
		return "off: credential_max_age is 0 (as DAOS): a credential validates until its agent's key changes, so a copy of one can be replayed; " +
			"set credential_max_age (e.g. 5m) to bound that (it also refuses DAOS agents' credentials, which carry no time)"
	}
	return fmt.Sprintf("on: credentials issued more than %v ago (credential_max_age) are refused, and so are those without an issue time (DAOS agents write none)",
		c.CredentialMaxAge)
}

// logStartNotes logs, at start-up, the replay mode and the warnings.
func (c Config) logStartNotes(log *slog.Logger) {
	log.Info("credential replay protection", "mode", c.ReplayMode())
	for _, w := range c.Warnings() {
		log.Warn(w)
	}
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
