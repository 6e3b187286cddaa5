package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/cc532012/drpc/daemon/daemontest"
	"github.com/cc532012/drpc/daemon/tlsconfig"
	mgmtv1 "github.com/cc532012/drpc/proto/drpc/mgmt/v1"
)

// TestGenCerts: gen-certs writes the CA, the server's and the agents'
// certificates with their modes, keeps them when run again, and adds a
// new agent with the same CA.
func TestGenCerts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	code, out, errOut := run(t, serverProgram, "gen-certs", "--out", dir, "--agent", "node1", "--server-name", "storage1")
	require.Equal(t, 0, code, errOut)
	for name, mode := range map[string]os.FileMode{
		"daosCA.crt": 0o644, "daosCA.key": 0o400, "server.crt": 0o644, "server.key": 0o400,
		"node1.crt": 0o644, "node1.key": 0o400, "clients/node1.crt": 0o644,
	} {
		path := filepath.Join(dir, name)
		fi, err := os.Stat(path)
		require.NoError(t, err, name)
		assert.Equal(t, mode, fi.Mode().Perm(), name)
		assert.Contains(t, out, "wrote "+path+" (")
	}
	ca, err := os.ReadFile(filepath.Join(dir, "daosCA.crt"))
	require.NoError(t, err)

	code, out, errOut = run(t, serverProgram, "gen-certs", "--out", dir, "--agent", "node1", "--agent", "node2")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "kept  "+filepath.Join(dir, "daosCA.crt"))
	assert.Contains(t, out, "kept  "+filepath.Join(dir, "server.crt"))
	assert.Contains(t, out, "wrote "+filepath.Join(dir, "node2.crt"))
	again, err := os.ReadFile(filepath.Join(dir, "daosCA.crt"))
	require.NoError(t, err)
	assert.Equal(t, ca, again, "the CA is kept")

	code, _, errOut = run(t, serverProgram, "gen-certs")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "--out is required")
	code, _, errOut = run(t, serverProgram, "gen-certs", "--out", dir, "--agent", "a/b")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `agent name "a/b"`)
}

// TestManagementServiceTLS runs the binary with mutual TLS on a free port
// of 127.0.0.1 (port: 0): it logs the address, answers GetAttachInfo with
// the engine's URI, shows the address in its status, and reads its
// certificates again on SIGUSR2.
func TestManagementServiceTLS(t *testing.T) {
	certs := filepath.Join(t.TempDir(), "certs")
	code, _, errOut := run(t, serverProgram, "gen-certs", "--out", certs)
	require.Equal(t, 0, code, errOut)
	dir := daemontest.SocketDir(t)
	cfg := writeConfig(t, dir,
		"name: tank",
		"transport_config:",
		"  allow_insecure: false",
		"  ca_cert: "+filepath.Join(certs, "daosCA.crt"),
		"  cert: "+filepath.Join(certs, "server.crt"),
		"  key: "+filepath.Join(certs, "server.key"),
		"  client_cert_dir: "+filepath.Join(certs, "clients"),
		"client_net_hint:",
		"  provider: ofi+tcp",
		"  crt_timeout: 30",
		"  env_vars: [FI_OFI_RXM_USE_SRX=1]",
	)
	// writeConfig's own transport_config (insecure) comes first: the file
	// given here must replace it, so drop that line.
	b, err := os.ReadFile(cfg)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(cfg, []byte(strings.Replace(string(b), "transport_config: {allow_insecure: true}\n", "", 1)), 0o644))

	srv := startServer(t, daemontest.ProcessOptions{}, "--config", cfg)
	logged(t, srv, `msg="management service listening"`)
	m := regexp.MustCompile(`msg="management service listening" address=(127\.0\.0\.1:\d+) system=tank tls=true`).FindStringSubmatch(srv.Stderr.String())
	require.NotNil(t, m, srv.Stderr.String())
	addr := m[1]
	e := startEngine(t, dir, 0)
	require.Eventually(t, func() bool { return engineIs(status(t, dir), 0, "ready") }, daemontest.WaitFor, daemontest.Tick)

	tc, err := tlsconfig.Client(tlsconfig.ConfigIn(certs, "agent"), tlsconfig.Options{})
	require.NoError(t, err)
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(tc)))
	require.NoError(t, err)
	defer conn.Close()
	var info mgmtv1.GetAttachInfoResp
	require.NoError(t, conn.Invoke(context.Background(), "/mgmt.MgmtSvc/GetAttachInfo", &mgmtv1.GetAttachInfoReq{AllRanks: true}, &info))
	require.Len(t, info.GetRankUris(), 1)
	assert.Equal(t, "tcp://127.0.0.1:31416", info.GetRankUris()[0].GetUri())
	assert.EqualValues(t, 30, info.GetClientNetHint().GetCrtTimeout())
	assert.Equal(t, []string{"FI_OFI_RXM_USE_SRX=1"}, info.GetClientNetHint().GetEnvVars())

	code, out, errOut := run(t, serverProgram, "status", "--socket-dir", dir)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "management service: system tank, listening on "+addr+", mutual TLS")

	srv.Signal(t, syscall.SIGUSR2)
	logged(t, srv, `msg="management service certificates read again"`)
	require.Equal(t, 0, srv.Stop(t, syscall.SIGTERM))
	require.Equal(t, 0, e.Stop(t, syscall.SIGTERM))
}

// TestMissingCertificates: by default the server wants mutual TLS; without
// its certificates it refuses to start, says where to put them and how to
// make them.
func TestMissingCertificates(t *testing.T) {
	dir := daemontest.SocketDir(t)
	cfg := filepath.Join(t.TempDir(), "server.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("socket_dir: "+dir+"\nport: 0\nlisten_address: 127.0.0.1\ntransport_config:\n  ca_cert: "+
		filepath.Join(dir, "none", "daosCA.crt")+"\n"), 0o644))
	code, _, errOut := run(t, serverProgram, "start", "--config", cfg)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "management service: transport_config: ca_cert:")
	assert.Contains(t, errOut, "no such file")
	assert.Contains(t, errOut, "drpc-server gen-certs --out "+filepath.Join(dir, "none"))
	_, err := os.Stat(filepath.Join(dir, "daos_server.sock"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}
