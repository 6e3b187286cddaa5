package tlsconfig

import (
	"errors"
	"fmt"
	"path/filepath"
)

// Default locations of the files, as DAOS's /etc/daos/certs.
const (
	// DefaultDir holds the certificates and keys.
	DefaultDir = "/etc/drpc/certs"
	// CACertName is the CA's certificate in a certificate directory.
	CACertName = "daosCA.crt"
	// CAKeyName is the CA's private key (gen-certs only: no daemon reads it).
	CAKeyName = "daosCA.key"
	// ClientsDirName is the server's client_cert_dir in a certificate
	// directory.
	ClientsDirName = "clients"
)

// Config is the transport_config section of the agent, and the part the
// server's shares: whether TLS is off, and the files of a TLS endpoint.
type Config struct {
	// AllowInsecure turns TLS off: plain TCP, no authentication of either
	// side (tests only). Both sides must agree.
	AllowInsecure bool `yaml:"allow_insecure"`
	// CACert is the PEM certificate of the CA that signs the peers'
	// certificates.
	CACert string `yaml:"ca_cert"`
	// Cert is this side's PEM certificate (a chain, leaf first, is
	// accepted).
	Cert string `yaml:"cert"`
	// Key is this side's PEM private key (PKCS#8, PKCS#1 or SEC 1), mode
	// 0600 or stricter.
	Key string `yaml:"key"`
}

// ServerConfig is the server's transport_config: Config and the directory
// of the client certificates it lets in.
type ServerConfig struct {
	Config `yaml:",inline"`
	// ClientCertDir, if not empty, lists the client certificates the server
	// accepts, as <common name>.crt; empty accepts any certificate the CA
	// signed.
	ClientCertDir string `yaml:"client_cert_dir"`
}

// DefaultConfig returns the transport_config of a component whose files
// are DefaultDir/<name>.crt and DefaultDir/<name>.key ("agent", "server").
func DefaultConfig(name string) Config { return ConfigIn(DefaultDir, name) }

// DefaultServerConfig returns the server's default transport_config:
// DefaultConfig("server") and DefaultDir/clients.
func DefaultServerConfig() ServerConfig { return ServerConfigIn(DefaultDir) }

// ConfigIn returns the transport_config of the component name ("agent",
// "node1") whose files GenerateFiles wrote in dir: the CA certificate,
// dir/<name>.crt and dir/<name>.key.
func ConfigIn(dir, name string) Config {
	return Config{
		CACert: filepath.Join(dir, CACertName),
		Cert:   filepath.Join(dir, name+".crt"),
		Key:    filepath.Join(dir, name+".key"),
	}
}

// ServerConfigIn returns the server's transport_config for the files
// GenerateFiles wrote in dir, with dir/clients as its client_cert_dir.
func ServerConfigIn(dir string) ServerConfig {
	return ServerConfig{Config: ConfigIn(dir, "server"), ClientCertDir: filepath.Join(dir, ClientsDirName)}
}

// Validate checks that the files TLS needs are named; prefix names the
// section in messages ("transport_config"). It reads no file (see Client
// and NewServerTLS). With AllowInsecure nothing is needed.
func (c Config) Validate(prefix string) error {
	if c.AllowInsecure {
		return nil
	}
	var errs []error
	for _, f := range []struct{ key, value string }{{"ca_cert", c.CACert}, {"cert", c.Cert}, {"key", c.Key}} {
		if f.value == "" {
			errs = append(errs, fmt.Errorf("%s.%s: empty: give the file (see drpc-server gen-certs), or set %s.allow_insecure: true to turn TLS off (tests only)",
				prefix, f.key, prefix))
		}
	}
	return errors.Join(errs...)
}
