package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"unicode"

	"github.com/cc532012/drpc/daemon/tlsconfig"
	"github.com/cc532012/drpc/daemon/version"
	mgmtv1 "github.com/cc532012/drpc/proto/drpc/mgmt/v1"
	"github.com/cc532012/drpc/server/internal/engine"
	"github.com/cc532012/drpc/server/internal/mgmtsvc"
)

// Defaults of the management service (the gRPC link to the agents), as
// DAOS's daos_server.yml.
const (
	// DefaultName is the system name, as DAOS's default.
	DefaultName = "daos_server"
	// DefaultPort is the management service's TCP port, as DAOS's.
	DefaultPort = 10001
	// MaxNameLen bounds the system name (DAOS_SYS_NAME_MAX).
	MaxNameLen = 15
	// DefaultProvider is the client network hint's provider.
	DefaultProvider = "ofi+tcp"
)

// NetHintConfig is the client_net_hint section: what GetAttachInfo tells
// clients about the fabric (DAOS derives it from its fabric settings).
type NetHintConfig struct {
	// Provider is the CaRT provider, e.g. "ofi+tcp".
	Provider string `yaml:"provider"`
	// Interface and Domain are the fabric interface and domain.
	Interface string `yaml:"interface"`
	Domain    string `yaml:"domain"`
	// CrtTimeout is the CaRT RPC timeout in seconds; 0 leaves the client's
	// default.
	CrtTimeout uint32 `yaml:"crt_timeout"`
	// NetDevClass is the network device class (ARP hardware type).
	NetDevClass uint32 `yaml:"net_dev_class"`
	// SrvSrxSet says whether the engines use a shared receive context;
	// -1 for unknown.
	SrvSrxSet int32 `yaml:"srv_srx_set"`
	// EnvVars are KEY=VALUE settings for the client library.
	EnvVars []string `yaml:"env_vars"`
}

// message returns the hint as GetAttachInfo sends it.
func (h NetHintConfig) message() *mgmtv1.ClientNetHint {
	return &mgmtv1.ClientNetHint{
		Provider:    h.Provider,
		Interface:   h.Interface,
		Domain:      h.Domain,
		CrtTimeout:  h.CrtTimeout,
		NetDevClass: h.NetDevClass,
		SrvSrxSet:   h.SrvSrxSet,
		EnvVars:     h.EnvVars,
	}
}

// defaultNetHint is client_net_hint's default.
func defaultNetHint() NetHintConfig {
	return NetHintConfig{Provider: DefaultProvider, SrvSrxSet: -1, EnvVars: []string{}}
}

// validateMgmt checks the keys of the management service.
func (c Config) validateMgmt() error {
	var errs []error
	if err := checkSystemName(c.Name); err != nil {
		errs = append(errs, fmt.Errorf("name: %w", err))
	}
	if c.Port < 0 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("port: %d is not a TCP port (0 to 65535; 0 picks a free one)", c.Port))
	}
	if h := c.ListenAddress; h != "" && (strings.ContainsAny(h, " /") || strings.Count(h, ":") == 1) {
		errs = append(errs, fmt.Errorf("listen_address: %q: want a host name or an IP address, without a port (the port is port)", h))
	}
	if err := c.Transport.Validate("transport_config"); err != nil {
		errs = append(errs, err)
	}
	if c.ClientNetHint.Provider == "" {
		errs = append(errs, fmt.Errorf("client_net_hint.provider: empty: give the fabric provider clients use, e.g. %s", DefaultProvider))
	}
	for i, kv := range c.ClientNetHint.EnvVars {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" || strings.ContainsFunc(k, unicode.IsSpace) {
			errs = append(errs, fmt.Errorf("client_net_hint.env_vars[%d]: %q: want KEY=VALUE", i, kv))
		}
	}
	return errors.Join(errs...)
}

// checkSystemName checks a system name as DAOS does: 1 to 15 bytes,
// printable, no space, no '/'.
func checkSystemName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty: give the system name (default %s)", DefaultName)
	case len(name) > MaxNameLen:
		return fmt.Errorf("%q is longer than %d bytes", name, MaxNameLen)
	case strings.ContainsFunc(name, func(r rune) bool { return !unicode.IsPrint(r) || unicode.IsSpace(r) || r == '/' }):
		return fmt.Errorf("%q contains a space, a '/' or a control character", name)
	}
	return nil
}

// mgmtAddress is the address the management service listens on.
func (c Config) mgmtAddress() string { return net.JoinHostPort(c.ListenAddress, fmt.Sprint(c.Port)) }

// newMgmt makes the management service and its listener (which reads its
// TLS files and listens only when started).
func newMgmt(cfg Config, registry *engine.Registry, caller *engine.Caller, log *slog.Logger) (*mgmtsvc.Service, *mgmtsvc.Listener, error) {
	svc := mgmtsvc.New(mgmtsvc.Options{
		System:      cfg.Name,
		NetHint:     cfg.ClientNetHint.message(),
		Engines:     registry.Statuses,
		Caller:      caller,
		CallTimeout: cfg.CallTimeout.Std(),
		Build:       version.Read().Main.Version,
		Logger:      log,
	})
	ln, err := mgmtsvc.NewListener(mgmtsvc.ListenerOptions{
		Address: cfg.mgmtAddress(),
		TLS:     cfg.Transport,
		Service: svc,
		Logger:  log,
	})
	if err != nil {
		return nil, nil, err
	}
	return svc, ln, nil
}

// defaultTransport is transport_config's default: mutual TLS with the
// files of /etc/drpc/certs.
func defaultTransport() tlsconfig.ServerConfig { return tlsconfig.DefaultServerConfig() }
