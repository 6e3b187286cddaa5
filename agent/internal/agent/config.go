package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"github.com/cc532012/drpc/agent/internal/mgmtclient"
	"github.com/cc532012/drpc/agent/internal/secagent"
	"github.com/cc532012/drpc/daemon/config"
	"github.com/cc532012/drpc/daemon/host"
	"github.com/cc532012/drpc/daemon/rundir"
	"github.com/cc532012/drpc/daemon/tlsconfig"
	"github.com/cc532012/drpc/drpc/auth"
)

// Defaults and fixed names of the agent.
const (
	// RuntimeDirName is the name of the default runtime directory
	// (/var/run/daos_agent as root, where libdaos looks).
	RuntimeDirName = "daos_agent"
	// SocketName is the agent's socket in its runtime directory.
	SocketName = "daos_agent.sock"
	// SocketMode lets every local user connect: any process may ask for its
	// own credential.
	SocketMode = 0o666
	// RuntimeDirMode is the mode of a runtime directory the agent creates.
	RuntimeDirMode = 0o755
	// DefaultOrigin is the origin DAOS agents write in credentials.
	DefaultOrigin = "agent"
	// DefaultCacheTTL is how long a credential is reused.
	DefaultCacheTTL = secagent.DefaultCacheTTL
	// DefaultCacheSize is how many identities the credential cache holds.
	DefaultCacheSize = secagent.DefaultCacheSize
	// MaxCacheSize bounds cache_size.
	MaxCacheSize = 1 << 20
	// DefaultName is the system name, as DAOS's default.
	DefaultName = "daos_server"
	// MaxNameLen bounds the system name (DAOS_SYS_NAME_MAX).
	MaxNameLen = 15
	// DefaultAttachInfoTTL is how long the attach info is used before it
	// is fetched again.
	DefaultAttachInfoTTL = 5 * time.Minute
)

// ErrNoKey: the configuration names no signing key and does not allow
// insecure credentials.
var ErrNoKey = errors.New("no signing key")

// Config is the agent's configuration: the YAML keys of its configuration
// file, which the flags of `drpc-agent start` override.
type Config struct {
	// RuntimeDir holds the socket (RuntimeDir/daos_agent.sock).
	RuntimeDir string `yaml:"runtime_dir" flag:"runtime-dir" usage:"'DIR' for the socket (DIR/daos_agent.sock)"`
	// KeyFile is the private key (PKCS#8 PEM, mode 0400 or 0600) that
	// signs credentials.
	KeyFile string `yaml:"key_file" flag:"key" usage:"private key 'FILE' that signs credentials (see gen-key)"`
	// Origin names this agent in credentials; verifiers find the public
	// key by it.
	Origin string `yaml:"origin" flag:"origin" usage:"'NAME' of this agent in credentials"`
	// AllowInsecure lets the agent run without a key: credentials then
	// carry only a digest, which proves nothing (for tests).
	AllowInsecure bool `yaml:"allow_insecure" flag:"allow-insecure" usage:"run without a key: credentials carry only a digest (tests only)"`
	// CacheTTL is how long a credential is reused for the same identity;
	// 0 turns the cache off.
	CacheTTL config.Duration `yaml:"cache_ttl" flag:"cache-ttl" usage:"reuse a credential for the same identity for 'DURATION' (0 turns the cache off)"`
	// CacheSize bounds the number of cached identities.
	CacheSize int `yaml:"cache_size"`
	// CredentialMaxAge is the credential_max_age of the servers that verify
	// this agent's credentials; 0 (the default) if they check no age, as
	// DAOS's. When set, a cached credential is handed out only while it is
	// less than half that old (cache_ttl is capped), so that its client
	// has the other half to present it.
	CredentialMaxAge config.Duration `yaml:"credential_max_age"`
	// UIDMap names uids that the user database does not know.
	UIDMap map[uint32]string `yaml:"uid_map"`
	// GIDMap names gids that the user database does not know.
	GIDMap map[uint32]string `yaml:"gid_map"`
	// Name is the system name (DAOS: name): the agent serves attach info
	// for this system only.
	Name string `yaml:"name"`
	// AccessPoints are the servers' management services, "host" or
	// "host:port", tried in turn; empty: no server (206 answers
	// -DER_UNREACH, no eviction).
	AccessPoints []string `yaml:"access_points" flag:"access-points" usage:"the servers' management services, 'HOST[:PORT],...', tried in turn"`
	// Port is the port of an access point that names none.
	Port int `yaml:"port"`
	// Transport is the TLS of the link to the servers: mutual by default.
	Transport tlsconfig.Config `yaml:"transport_config"`
	// AttachInfoTTL is how long the attach info is used before the agent
	// asks the server again; 0 turns the cache off.
	AttachInfoTTL config.Duration `yaml:"attach_info_ttl" flag:"attach-info-ttl" usage:"ask the server for the attach info again after 'DURATION' (0 turns the cache off)"`
	// Common holds log_level, log_format, metrics_addr and limits.
	host.Common `yaml:",inline"`
}

// DefaultConfig returns the configuration the agent runs with when neither a
// file nor a flag says otherwise.
func DefaultConfig() Config {
	return Config{
		RuntimeDir:    rundir.Default(RuntimeDirName),
		Origin:        DefaultOrigin,
		CacheTTL:      config.Duration(DefaultCacheTTL),
		CacheSize:     DefaultCacheSize,
		UIDMap:        map[uint32]string{},
		GIDMap:        map[uint32]string{},
		Name:          DefaultName,
		AccessPoints:  []string{},
		Port:          mgmtclient.DefaultPort,
		Transport:     tlsconfig.DefaultConfig("agent"),
		AttachInfoTTL: config.Duration(DefaultAttachInfoTTL),
		Common:        host.DefaultCommon(),
	}
}

// SocketPath returns the socket the agent creates: RuntimeDir/daos_agent.sock.
func (c Config) SocketPath() string { return filepath.Join(c.RuntimeDir, SocketName) }

// Validate checks every value, with messages that name the key. It does not
// look at files (see New).
func (c Config) Validate() error {
	var errs []error
	if c.RuntimeDir == "" {
		errs = append(errs, errors.New("runtime_dir: empty: give the directory for the agent's socket"))
	}
	if err := auth.ValidateOrigin(c.Origin); err != nil {
		errs = append(errs, fmt.Errorf("origin: %w", err))
	}
	if c.CacheTTL < 0 {
		errs = append(errs, fmt.Errorf("cache_ttl: %v is negative: use 0 to turn the cache off", c.CacheTTL))
	}
	if c.CredentialMaxAge < 0 {
		errs = append(errs, fmt.Errorf("credential_max_age: %v is negative: use 0 if the servers check no age (credential_max_age 0 there)", c.CredentialMaxAge))
	}
	if c.CacheSize < 1 || c.CacheSize > MaxCacheSize {
		errs = append(errs, fmt.Errorf("cache_size: %d is not between 1 and %d (set cache_ttl: 0 to turn the cache off)", c.CacheSize, MaxCacheSize))
	}
	for _, m := range []struct {
		key   string
		names map[uint32]string
	}{{"uid_map", c.UIDMap}, {"gid_map", c.GIDMap}} {
		for id, name := range m.names {
			if err := checkName(name); err != nil {
				errs = append(errs, fmt.Errorf("%s: %d: %w", m.key, id, err))
			}
		}
	}
	if err := c.validateMgmt(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Common.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// validateMgmt checks the keys of the link to the servers.
func (c Config) validateMgmt() error {
	var errs []error
	if c.Name == "" || len(c.Name) > MaxNameLen || strings.ContainsFunc(c.Name, func(r rune) bool { return !unicode.IsPrint(r) || unicode.IsSpace(r) || r == '/' }) {
		errs = append(errs, fmt.Errorf("name: %q: want the system name, 1 to %d printable bytes without space or '/' (default %s)", c.Name, MaxNameLen, DefaultName))
	}
	if c.Port < 1 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("port: %d is not a TCP port (1 to 65535; default %d)", c.Port, mgmtclient.DefaultPort))
	}
	for i, ap := range c.AccessPoints {
		if _, err := mgmtclient.ParseAccessPoint(ap, max(c.Port, 1)); err != nil {
			errs = append(errs, fmt.Errorf("access_points[%d]: %w", i, err))
		}
	}
	if c.AttachInfoTTL < 0 {
		errs = append(errs, fmt.Errorf("attach_info_ttl: %v is negative: use 0 to turn the cache off", c.AttachInfoTTL))
	}
	if len(c.AccessPoints) > 0 {
		if err := c.Transport.Validate("transport_config"); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// checkName refuses names that cannot go into an AUTH_SYS token.
func checkName(name string) error {
	if name == "" {
		return errors.New("empty name")
	}
	if strings.Contains(name, auth.PrincipalSuffix) {
		return fmt.Errorf("name %q contains %q", name, auth.PrincipalSuffix)
	}
	for _, r := range name {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return fmt.Errorf("name %q contains a space or control character", name)
		}
	}
	return nil
}

// cacheTTL returns the cache time to live as a time.Duration.
func (c Config) cacheTTL() time.Duration { return c.CacheTTL.Std() }

// MinWorkableMaxAge is the smallest credential_max_age that can work:
// stamps are whole seconds, so a credential may look a second old when it
// is issued.
const MinWorkableMaxAge = 2 * time.Second

// Warnings returns what the agent should warn about at start-up: values
// that Validate accepts but that cannot work. The agent cannot know the
// servers' credential_max_age; it can only check the one it is told.
func (c Config) Warnings() []string {
	var w []string
	if age := c.CredentialMaxAge.Std(); age > 0 && age < MinWorkableMaxAge {
		w = append(w, fmt.Sprintf("credential_max_age %v cannot work: credentials are stamped in whole seconds, so a fresh one may already look a second old to a server that refuses credentials older than %v; every request is signed anew (no cache), and servers with that setting will still refuse some: use at least %v there and here",
			age, age, MinWorkableMaxAge))
	}
	return w
}

// logStartNotes logs the warnings at start-up, and how long a credential
// may be reused.
func (c Config) logStartNotes(log *slog.Logger) {
	if age := c.CredentialMaxAge.Std(); age > 0 && c.cacheTTL() > age/2 {
		log.Info("a cached credential is signed anew once half of credential_max_age old, sooner than cache_ttl", "credential_max_age", age.String(),
			"cache_ttl", c.CacheTTL.String(), "reuse", (age / 2).String())
	}
	for _, w := range c.Warnings() {
		log.Warn(w)
	}
}
