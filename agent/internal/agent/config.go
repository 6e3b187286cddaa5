package agent

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"github.com/cc532012/drpc/agent/internal/mgmtclient"
	"github.com/cc532012/drpc/agent/internal/secagent"
	"github.com/cc532012/drpc/daemon/cli"
	"github.com/cc532012/drpc/daemon/config"
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
	RuntimeDir string `yaml:"runtime_dir"`
	// KeyFile is the private key (PKCS#8 PEM, mode 0600 or stricter) that
	// signs credentials.
	KeyFile string `yaml:"key_file"`
	// Origin names this agent in credentials; verifiers find the public
	// key by it.
	Origin string `yaml:"origin"`
	// AllowInsecure lets the agent run without a key: credentials then
	// carry only a digest, which proves nothing (for tests).
	AllowInsecure bool `yaml:"allow_insecure"`
	// CacheTTL is how long a credential is reused for the same identity;
	// 0 turns the cache off.
	CacheTTL config.Duration `yaml:"cache_ttl"`
	// CacheSize bounds the number of cached identities.
	CacheSize int `yaml:"cache_size"`
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
	AccessPoints []string `yaml:"access_points"`
	// Port is the port of an access point that names none.
	Port int `yaml:"port"`
	// Transport is the TLS of the link to the servers: mutual by default.
	Transport tlsconfig.Config `yaml:"transport_config"`
	// AttachInfoTTL is how long the attach info is used before the agent
	// asks the server again; 0 turns the cache off.
	AttachInfoTTL config.Duration `yaml:"attach_info_ttl"`
	// Common holds log_level, log_format and metrics_addr.
	cli.Common `yaml:",inline"`
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
		Common:        cli.DefaultCommon(),
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
