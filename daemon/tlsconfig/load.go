package tlsconfig

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// ErrNotListed: the server has a client_cert_dir and the client's
// certificate is not in it.
var ErrNotListed = errors.New("client certificate is not listed in client_cert_dir")

// ErrExpired: this side's own certificate has expired or is not yet valid.
// It is not a load error (the peers refuse such a certificate, and say so):
// Options.Logger gets a warning that wraps it.
var ErrExpired = errors.New("certificate is not valid now")

// MinVersion is the oldest TLS version either side accepts: TLS 1.2, which
// DAOS's peers speak.
const MinVersion = tls.VersionTLS12

// Options tune the *tls.Config built from a Config. The zero value is the
// defaults.
type Options struct {
	// NextProtos are the ALPN protocols to offer ("h2" for gRPC, which
	// requires it).
	NextProtos []string
	// Now returns the time, to check that this side's certificate is valid
	// now; nil means time.Now.
	Now func() time.Time
	// Logger, if set, gets a warning when this side's certificate is not
	// valid now (expired, or not yet valid): the peers will refuse it.
	Logger *slog.Logger
}

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// loadKeyPair reads this side's certificate and key and checks that the
// certificate is valid now.
func loadKeyPair(c Config, opts Options) (tls.Certificate, error) {
	certPEM, err := readCert(c.Cert)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("cert: %w", err)
	}
	keyPEM, err := readKey(c.Key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("key: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%w: cert %s and key %s: %w", ErrBadFile, c.Cert, c.Key, err)
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return tls.Certificate{}, fmt.Errorf("%w: cert %s: %w", ErrBadFile, c.Cert, err)
		}
		pair.Leaf = leaf
	}
	if err := CheckValid(c.Cert, leaf, opts.now()); err != nil && opts.Logger != nil {
		opts.Logger.Warn("this side's certificate is not valid now: the peers will refuse it", "err", err)
	}
	return pair, nil
}

// CheckValid returns an error wrapping ErrExpired if cert (read from path)
// is not valid at now, with its validity and what to do.
func CheckValid(path string, cert *x509.Certificate, now time.Time) error {
	if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return fmt.Errorf("%w: cert %s is valid from %s to %s: make a new one (drpc-server gen-certs)",
			ErrExpired, path, cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339))
	}
	return nil
}

// Client returns the *tls.Config of a client (the agent): its certificate
// for the server, and the CA that must have signed the server's. The
// caller (gRPC) sets the server name to verify from the address it dials.
// With AllowInsecure it returns nil: no TLS.
func Client(c Config, opts Options) (*tls.Config, error) {
	if c.AllowInsecure {
		return nil, nil
	}
	if err := c.Validate("transport_config"); err != nil {
		return nil, err
	}
	pool, err := loadCAPool(c.CACert)
	if err != nil {
		return nil, err
	}
	pair, err := loadKeyPair(c, opts)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:   MinVersion,
		RootCAs:      pool,
		Certificates: []tls.Certificate{pair},
		NextProtos:   opts.NextProtos,
	}, nil
}

// ServerTLS is the TLS configuration of a server, reloadable: Config's
// *tls.Config takes the current files for each new connection.
type ServerTLS struct {
	cfg  ServerConfig
	opts Options
	cur  atomic.Pointer[tls.Config]
}

// NewServerTLS reads the server's files and checks them: the CA, the
// certificate (valid now) and its key, and client_cert_dir (a directory).
// With AllowInsecure it returns nil: no TLS.
func NewServerTLS(c ServerConfig, opts Options) (*ServerTLS, error) {
	if c.AllowInsecure {
		return nil, nil
	}
	s := &ServerTLS{cfg: c, opts: opts}
	cfg, err := s.load()
	if err != nil {
		return nil, err
	}
	s.cur.Store(cfg)
	return s, nil
}

// load builds the per-connection configuration from the files.
func (s *ServerTLS) load() (*tls.Config, error) {
	c := s.cfg
	if err := c.Validate("transport_config"); err != nil {
		return nil, err
	}
	pool, err := loadCAPool(c.CACert)
	if err != nil {
		return nil, err
	}
	pair, err := loadKeyPair(c.Config, s.opts)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		MinVersion:   MinVersion,
		Certificates: []tls.Certificate{pair},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		NextProtos:   s.opts.NextProtos,
	}
	if dir := c.ClientCertDir; dir != "" {
		fi, err := os.Stat(dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("client_cert_dir: %s does not exist: make it and copy each agent's certificate there as <name>.crt "+
				"(drpc-server gen-certs does), or set client_cert_dir: \"\" to let in any certificate the CA signed", dir)
		case err != nil:
			return nil, fmt.Errorf("client_cert_dir: %w", err)
		case !fi.IsDir():
			return nil, fmt.Errorf("client_cert_dir: %s is not a directory", dir)
		case fi.Mode().Perm()&0o022 != 0:
			return nil, fmt.Errorf("%w: client_cert_dir %s has mode %04o and others may add certificates to it: run: chmod 755 %s",
				ErrPermissions, dir, fi.Mode().Perm(), dir)
		}
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("no client certificate")
			}
			return CheckListed(dir, cs.PeerCertificates[0])
		}
	}
	return cfg, nil
}

// Config returns the *tls.Config to listen with: each new connection gets
// the configuration of the last successful load.
func (s *ServerTLS) Config() *tls.Config {
	return &tls.Config{
		MinVersion: MinVersion,
		NextProtos: s.opts.NextProtos,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return s.cur.Load(), nil
		},
	}
}

// Reload reads the files again; new connections use them. If a file cannot
// be used, the server keeps the files it had and Reload says why.
func (s *ServerTLS) Reload() error {
	cfg, err := s.load()
	if err != nil {
		return err
	}
	s.cur.Store(cfg)
	return nil
}

// Leaf returns the server's own certificate, as last loaded.
func (s *ServerTLS) Leaf() *x509.Certificate {
	return s.cur.Load().Certificates[0].Leaf
}

// CheckListed checks that cert is listed in the client certificate
// directory dir: dir/<common name>.crt holds that very certificate. The
// error wraps ErrNotListed and says what to do.
func CheckListed(dir string, cert *x509.Certificate) error {
	cn := cert.Subject.CommonName
	if cn == "" || cn == "." || cn == ".." || strings.ContainsAny(cn, "/\x00") {
		return fmt.Errorf("%w: the client certificate's common name %q cannot name a file in %s", ErrNotListed, cn, dir)
	}
	path := filepath.Join(dir, cn+".crt")
	b, err := readCert(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s does not exist: copy the certificate of %q there to let it in", ErrNotListed, path, cn)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotListed, err)
	}
	certs, err := parseCerts(path, b)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotListed, err)
	}
	for _, c := range certs {
		if bytes.Equal(c.Raw, cert.Raw) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s holds another certificate than the one %q presented (serial %s): replace it with the client's current certificate",
		ErrNotListed, path, cn, cert.SerialNumber.Text(16))
}
