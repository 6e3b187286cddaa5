package tlsconfig_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/daemon/tlsconfig"
)

// certDir makes a CA, a server certificate and the agents' in a new
// directory, as gen-certs does.
func certDir(t *testing.T, agents ...string) string {
	t.Helper()
	dir := t.TempDir()
	_, err := tlsconfig.GenerateFiles(tlsconfig.GenerateOptions{Dir: dir, Agents: agents})
	require.NoError(t, err)
	return dir
}

// handshake runs a TLS handshake between a server and a client over
// loopback TCP and returns each side's error.
func handshake(t *testing.T, server, client *tls.Config) (serverErr, clientErr error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		tc := tls.Server(c, server)
		err = tc.HandshakeContext(context.Background())
		if err == nil {
			// TLS 1.3: the server checks the client's certificate after
			// the client's handshake is done; a read gives the client
			// the verdict.
			_, err = tc.Write([]byte("x"))
		}
		done <- err
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	cfg := client.Clone()
	cfg.ServerName = "127.0.0.1"
	tc := tls.Client(c, cfg)
	clientErr = tc.HandshakeContext(context.Background())
	if clientErr == nil {
		_, clientErr = tc.Read(make([]byte, 1))
	}
	_ = c.Close()
	return <-done, clientErr
}

func TestGenerateFilesLayout(t *testing.T) {
	dir := t.TempDir()
	files, err := tlsconfig.GenerateFiles(tlsconfig.GenerateOptions{Dir: dir, Agents: []string{"node1", "node2"}, ServerNames: []string{"10.0.0.5", "storage1"}})
	require.NoError(t, err)
	want := map[string]os.FileMode{
		"daosCA.crt": 0o644, "daosCA.key": 0o400,
		"server.crt": 0o644, "server.key": 0o400,
		"node1.crt": 0o644, "node1.key": 0o400, "clients/node1.crt": 0o644,
		"node2.crt": 0o644, "node2.key": 0o400, "clients/node2.crt": 0o644,
	}
	require.Len(t, files, len(want))
	for name, mode := range want {
		fi, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err, name)
		assert.Equal(t, mode, fi.Mode().Perm(), name)
	}
	for _, f := range files {
		assert.False(t, f.Kept, f.Path)
	}
	s, err := tlsconfig.NewServerTLS(tlsconfig.ServerConfigIn(dir), tlsconfig.Options{})
	require.NoError(t, err)
	leaf := s.Leaf()
	assert.Contains(t, leaf.DNSNames, "localhost")
	assert.Contains(t, leaf.DNSNames, "storage1")
	host, _ := os.Hostname()
	assert.Contains(t, leaf.DNSNames, host)
	var ips []string
	for _, ip := range leaf.IPAddresses {
		ips = append(ips, ip.String())
	}
	assert.Subset(t, ips, []string{"127.0.0.1", "::1", "10.0.0.5"})
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		assert.False(t, strings.Contains(e.Name(), ".tmp"), "temporary file left: %s", e.Name())
	}
}

func TestGenerateFilesKeepsAndAdds(t *testing.T) {
	dir := certDir(t, "node1")
	ca1, err := os.ReadFile(filepath.Join(dir, "daosCA.crt"))
	require.NoError(t, err)
	srv1, err := os.ReadFile(filepath.Join(dir, "server.crt"))
	require.NoError(t, err)

	// Again with a new agent: the CA and the server's are kept.
	files, err := tlsconfig.GenerateFiles(tlsconfig.GenerateOptions{Dir: dir, Agents: []string{"node1", "node2"}})
	require.NoError(t, err)
	kept := map[string]bool{}
	for _, f := range files {
		kept[filepath.Base(f.Path)] = f.Kept
	}
	assert.True(t, kept["daosCA.crt"])
	assert.True(t, kept["server.crt"])
	assert.True(t, kept["node1.crt"])
	assert.False(t, kept["node2.crt"])
	ca2, _ := os.ReadFile(filepath.Join(dir, "daosCA.crt"))
	srv2, _ := os.ReadFile(filepath.Join(dir, "server.crt"))
	assert.Equal(t, ca1, ca2)
	assert.Equal(t, srv1, srv2)

	// node2 is signed by the same CA: the server lets it in.
	s, err := tlsconfig.NewServerTLS(tlsconfig.ServerConfigIn(dir), tlsconfig.Options{})
	require.NoError(t, err)
	c, err := tlsconfig.Client(tlsconfig.ConfigIn(dir, "node2"), tlsconfig.Options{})
	require.NoError(t, err)
	serr, cerr := handshake(t, s.Config(), c)
	require.NoError(t, serr)
	require.NoError(t, cerr)

	// Force: a new CA.
	_, err = tlsconfig.GenerateFiles(tlsconfig.GenerateOptions{Dir: dir, Force: true})
	require.NoError(t, err)
	ca3, _ := os.ReadFile(filepath.Join(dir, "daosCA.crt"))
	assert.NotEqual(t, ca1, ca3)

	// A CA key without its certificate, and a new CA next to old leaves,
	// are refused.
	require.NoError(t, os.Remove(filepath.Join(dir, "daosCA.crt")))
	_, err = tlsconfig.GenerateFiles(tlsconfig.GenerateOptions{Dir: dir})
	require.ErrorIs(t, err, tlsconfig.ErrExists)
	require.NoError(t, os.Remove(filepath.Join(dir, "daosCA.key")))
	_, err = tlsconfig.GenerateFiles(tlsconfig.GenerateOptions{Dir: dir})
	require.ErrorIs(t, err, tlsconfig.ErrExists)
	assert.Contains(t, err.Error(), "signed by another CA")

	for _, bad := range []string{"", "..", "a/b", "server"} {
		_, err := tlsconfig.GenerateFiles(tlsconfig.GenerateOptions{Dir: t.TempDir(), Agents: []string{bad}})
		require.Error(t, err, "%q", bad)
	}
}

func TestHandshakes(t *testing.T) {
	dir := certDir(t, "agent", "node2")
	other := certDir(t, "agent") // another CA
	past := time.Now().Add(-48 * time.Hour)

	// An agent whose certificate has expired, signed by dir's CA.
	ca, err := tlsconfig.LoadAuthority(filepath.Join(dir, "daosCA.crt"), filepath.Join(dir, "daosCA.key"))
	require.NoError(t, err)
	certPEM, keyPEM, err := ca.Issue(tlsconfig.Leaf{CommonName: "old", Client: true, NotBefore: past, NotAfter: past.Add(time.Hour)})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "old.crt"), certPEM, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "old.key"), keyPEM, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "clients", "old.crt"), certPEM, 0o644))
	// The expired certificate loads, with a warning: the peer refuses it.
	var warnings bytes.Buffer
	_, err = tlsconfig.Client(tlsconfig.ConfigIn(dir, "old"), tlsconfig.Options{Logger: slog.New(slog.NewTextHandler(&warnings, nil))})
	require.NoError(t, err)
	assert.Contains(t, warnings.String(), "certificate is not valid now")
	assert.Contains(t, warnings.String(), "make a new one")
	oldOpts := tlsconfig.Options{}

	// node2's file in clients/ is removed: not listed.
	require.NoError(t, os.Remove(filepath.Join(dir, "clients", "node2.crt")))

	srv, err := tlsconfig.NewServerTLS(tlsconfig.ServerConfigIn(dir), tlsconfig.Options{})
	require.NoError(t, err)
	noDir := tlsconfig.ServerConfigIn(dir)
	noDir.ClientCertDir = ""
	srvAnyClient, err := tlsconfig.NewServerTLS(noDir, tlsconfig.Options{})
	require.NoError(t, err)

	tests := []struct {
		name                   string
		server                 *tlsconfig.ServerTLS
		client                 tlsconfig.Config
		clientOpts             tlsconfig.Options
		serverWant, clientWant string // "" for success
		serverHint, clientHint string
	}{
		{name: "same CA", server: srv, client: tlsconfig.ConfigIn(dir, "agent")},
		{name: "client of another CA", server: srv, client: tlsconfig.Config{CACert: filepath.Join(dir, "daosCA.crt"), Cert: filepath.Join(other, "agent.crt"), Key: filepath.Join(other, "agent.key")},
			serverWant: "certificate signed by unknown authority", clientWant: "unknown certificate authority",
			serverHint: "not signed by the CA this side trusts", clientHint: "does not trust the CA"},
		{name: "client trusts another CA", server: srv, client: tlsconfig.ConfigIn(other, "agent"),
			serverWant: "bad certificate", clientWant: "certificate signed by unknown authority",
			serverHint: "refused this side's certificate", clientHint: "not signed by the CA this side trusts"},
		{name: "expired client certificate", server: srv, client: tlsconfig.ConfigIn(dir, "old"), clientOpts: oldOpts,
			serverWant: "certificate has expired", clientWant: "expired certificate",
			serverHint: "has expired", clientHint: "has expired"},
		{name: "not in client_cert_dir", server: srv, client: tlsconfig.ConfigIn(dir, "node2"),
			serverWant: "not listed in client_cert_dir", clientWant: "bad certificate",
			serverHint: "does not list this certificate", clientHint: "refused this side's certificate"},
		{name: "no client_cert_dir", server: srvAnyClient, client: tlsconfig.ConfigIn(dir, "node2")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tlsconfig.Client(tc.client, tc.clientOpts)
			require.NoError(t, err)
			serr, cerr := handshake(t, tc.server.Config(), c)
			if tc.serverWant == "" {
				require.NoError(t, serr)
				require.NoError(t, cerr)
				return
			}
			require.ErrorContains(t, serr, tc.serverWant)
			require.ErrorContains(t, cerr, tc.clientWant)
			assert.Contains(t, tlsconfig.Hint(serr, false), tc.serverHint)
			assert.Contains(t, tlsconfig.Hint(cerr, false), tc.clientHint)
		})
	}
}

func TestPlainPeer(t *testing.T) {
	dir := certDir(t)
	srv, err := tlsconfig.NewServerTLS(tlsconfig.ServerConfigIn(dir), tlsconfig.Options{})
	require.NoError(t, err)

	// A plain-text client (an HTTP/2 preface) against the TLS server.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		done <- tls.Server(c, srv.Config()).Handshake()
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	_, err = c.Write([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
	require.NoError(t, err)
	serr := <-done
	require.ErrorContains(t, serr, "first record does not look like a TLS handshake")
	assert.Contains(t, tlsconfig.Hint(serr, false), "allow_insecure")
	_, err = c.Read(make([]byte, 1))
	require.Error(t, err)
	assert.Contains(t, tlsconfig.Hint(err, true), "requires TLS")
	c.Close()
}

func TestLoadRefusals(t *testing.T) {
	tests := []struct {
		name string
		edit func(dir string, c *tlsconfig.ServerConfig)
		want string
		is   error
	}{
		{"key readable by others", func(dir string, _ *tlsconfig.ServerConfig) {
			_ = os.Chmod(filepath.Join(dir, "server.key"), 0o644)
		}, "chmod 400", tlsconfig.ErrPermissions},
		{"CA writable by others", func(dir string, _ *tlsconfig.ServerConfig) {
			_ = os.Chmod(filepath.Join(dir, "daosCA.crt"), 0o666)
		}, "chmod 644", tlsconfig.ErrPermissions},
		{"missing CA", func(dir string, _ *tlsconfig.ServerConfig) {
			_ = os.Remove(filepath.Join(dir, "daosCA.crt"))
		}, "ca_cert", os.ErrNotExist},
		{"key of another certificate", func(dir string, c *tlsconfig.ServerConfig) {
			c.Key = filepath.Join(dir, "agent.key")
		}, "private key does not match public key", tlsconfig.ErrBadFile},
		{"certificate is not PEM", func(dir string, _ *tlsconfig.ServerConfig) {
			_ = os.WriteFile(filepath.Join(dir, "daosCA.crt"), []byte("hello"), 0o644)
		}, "holds no PEM certificate", tlsconfig.ErrBadFile},
		{"a directory as a key", func(dir string, c *tlsconfig.ServerConfig) {
			c.Key = dir
		}, "not a regular file", tlsconfig.ErrBadFile},
		{"missing client_cert_dir", func(dir string, c *tlsconfig.ServerConfig) {
			c.ClientCertDir = filepath.Join(dir, "none")
		}, `client_cert_dir: "" to let in any certificate`, nil},
		{"client_cert_dir writable by others", func(dir string, c *tlsconfig.ServerConfig) {
			_ = os.Chmod(c.ClientCertDir, 0o777)
		}, "chmod 755", tlsconfig.ErrPermissions},
		{"no files named", func(_ string, c *tlsconfig.ServerConfig) {
			c.Cert, c.Key = "", ""
		}, "transport_config.cert: empty", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := certDir(t)
			cfg := tlsconfig.ServerConfigIn(dir)
			tc.edit(dir, &cfg)
			_, err := tlsconfig.NewServerTLS(cfg, tlsconfig.Options{})
			require.ErrorContains(t, err, tc.want)
			if tc.is != nil {
				require.ErrorIs(t, err, tc.is)
			}
		})
	}

	s, err := tlsconfig.NewServerTLS(tlsconfig.ServerConfig{Config: tlsconfig.Config{AllowInsecure: true}}, tlsconfig.Options{})
	require.NoError(t, err)
	assert.Nil(t, s, "insecure: no TLS")
	c, err := tlsconfig.Client(tlsconfig.Config{AllowInsecure: true}, tlsconfig.Options{})
	require.NoError(t, err)
	assert.Nil(t, c)
}

func TestReload(t *testing.T) {
	dir := certDir(t)
	srv, err := tlsconfig.NewServerTLS(tlsconfig.ServerConfigIn(dir), tlsconfig.Options{})
	require.NoError(t, err)
	first := srv.Leaf().SerialNumber

	// A bad new file: the old configuration stays.
	require.NoError(t, os.Chmod(filepath.Join(dir, "server.key"), 0o644))
	require.ErrorIs(t, srv.Reload(), tlsconfig.ErrPermissions)
	assert.Equal(t, first, srv.Leaf().SerialNumber)
	require.NoError(t, os.Chmod(filepath.Join(dir, "server.key"), 0o400))

	// New certificates (same CA): new connections get them.
	require.NoError(t, os.Remove(filepath.Join(dir, "server.crt")))
	require.NoError(t, os.Remove(filepath.Join(dir, "server.key")))
	_, err = tlsconfig.GenerateFiles(tlsconfig.GenerateOptions{Dir: dir})
	require.NoError(t, err)
	require.NoError(t, srv.Reload())
	assert.NotEqual(t, first, srv.Leaf().SerialNumber)
	c, err := tlsconfig.Client(tlsconfig.ConfigIn(dir, "agent"), tlsconfig.Options{})
	require.NoError(t, err)
	serr, cerr := handshake(t, srv.Config(), c)
	require.NoError(t, serr)
	require.NoError(t, cerr)
}

func TestHint(t *testing.T) {
	assert.Empty(t, tlsconfig.Hint(nil, false))
	assert.Empty(t, tlsconfig.Hint(errors.New("connection refused"), false))
	assert.Empty(t, tlsconfig.Hint(errors.New("EOF"), false), "EOF means TLS trouble only on an insecure side")
	assert.Contains(t, tlsconfig.Hint(errors.New("error reading server preface: EOF"), true), "requires TLS")
	assert.Contains(t, tlsconfig.Hint(errors.New("x509: certificate is valid for localhost, not example.com"), false), "does not name the address")
}

func TestValidate(t *testing.T) {
	require.NoError(t, tlsconfig.Config{AllowInsecure: true}.Validate("transport_config"))
	require.NoError(t, tlsconfig.DefaultConfig("agent").Validate("transport_config"))
	err := tlsconfig.Config{}.Validate("transport_config")
	require.Error(t, err)
	for _, k := range []string{"transport_config.ca_cert", "transport_config.cert", "transport_config.key"} {
		assert.Contains(t, err.Error(), k)
	}
	d := tlsconfig.DefaultServerConfig()
	assert.Equal(t, "/etc/drpc/certs/daosCA.crt", d.CACert)
	assert.Equal(t, "/etc/drpc/certs/server.crt", d.Cert)
	assert.Equal(t, "/etc/drpc/certs/server.key", d.Key)
	assert.Equal(t, "/etc/drpc/certs/clients", d.ClientCertDir)
}
