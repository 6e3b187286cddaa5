package mgmtsvc_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cc532012/drpc/daemon/daemontest"
	"github.com/cc532012/drpc/daemon/tlsconfig"
	mgmtv1 "github.com/cc532012/drpc/proto/drpc/mgmt/v1"
	"github.com/cc532012/drpc/server/internal/mgmtsvc"
)

const (
	getAttachInfo = "/mgmt.MgmtSvc/GetAttachInfo"
	poolEvict     = "/mgmt.MgmtSvc/PoolEvict"
)

// TestMethodPaths: the paths are DAOS's, read from the schema.
func TestMethodPaths(t *testing.T) {
	assert.Equal(t, []string{getAttachInfo, poolEvict}, mgmtsvc.MethodPaths())
	desc, err := mgmtsvc.ServiceDesc()
	require.NoError(t, err)
	assert.Equal(t, "mgmt.MgmtSvc", desc.ServiceName)
	require.Len(t, desc.Methods, 2)
	assert.Equal(t, "GetAttachInfo", desc.Methods[0].MethodName)
	assert.Equal(t, "PoolEvict", desc.Methods[1].MethodName)
}

func TestListenerTLS(t *testing.T) {
	certDir := certs(t, "agent")
	dir := daemontest.SocketDir(t)
	_, s0 := startEngine(t, dir, 0, 0)
	_, s1 := startEngine(t, dir, 1, 0)
	e := &engines{}
	e.set(s0, s1)
	logs := &daemontest.SyncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	l := listen(t, newService(t, e, log), tlsconfig.ServerConfigIn(certDir), log)
	assert.True(t, l.TLS())
	assert.True(t, strings.HasPrefix(l.Addr(), "127.0.0.1:"), l.Addr())
	assert.Contains(t, logs.String(), `msg="management service listening" address=`+l.Addr()+` system=daos_server tls=true`)

	conn := dial(t, l.Addr(), tlsconfig.ConfigIn(certDir, "agent"))
	ctx := context.Background()
	var info mgmtv1.GetAttachInfoResp
	require.NoError(t, conn.Invoke(ctx, getAttachInfo, &mgmtv1.GetAttachInfoReq{AllRanks: true}, &info))
	require.Len(t, info.GetRankUris(), 2)
	assert.Equal(t, "tcp://127.0.0.1:31416", info.GetRankUris()[0].GetUri())
	assert.Equal(t, "tcp://127.0.0.1:31417", info.GetRankUris()[1].GetUri())

	var ev mgmtv1.PoolEvictResp
	require.NoError(t, conn.Invoke(ctx, poolEvict, &mgmtv1.PoolEvictReq{Id: pool, Handles: []string{h1}, Machine: "c1"}, &ev))
	assert.EqualValues(t, 2, ev.GetCount())

	err := conn.Invoke(ctx, getAttachInfo, &mgmtv1.GetAttachInfoReq{Sys: "other"}, &info)
	assert.Equal(t, codes.InvalidArgument, status.Code(err))
	err = conn.Invoke(ctx, "/mgmt.MgmtSvc/PoolCreate", &mgmtv1.PoolEvictReq{}, &ev)
	assert.Equal(t, codes.Unimplemented, status.Code(err))
}

// TestRefusals: a wrong CA, an expired certificate, a certificate not in
// client_cert_dir and TLS on one side only are refused, and the server logs
// why, once.
func TestRefusals(t *testing.T) {
	certDir := certs(t, "agent", "unlisted")
	other := certs(t, "agent")
	require.NoError(t, os.Remove(filepath.Join(certDir, "clients", "unlisted.crt")))
	ca, err := tlsconfig.LoadAuthority(filepath.Join(certDir, "daosCA.crt"), filepath.Join(certDir, "daosCA.key"))
	require.NoError(t, err)
	past := time.Now().Add(-48 * time.Hour)
	certPEM, keyPEM, err := ca.Issue(tlsconfig.Leaf{CommonName: "old", Client: true, NotBefore: past, NotAfter: past.Add(time.Hour)})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(certDir, "old.crt"), certPEM, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(certDir, "old.key"), keyPEM, 0o600))

	// The client's errors are checked where the client can tell: refused
	// before its handshake ends. With TLS 1.3 the server checks the client's
	// certificate after the client's handshake is done, and a plain gRPC
	// client then sees only a closed connection (the agent's credentials
	// wait for the server's verdict; see agent/internal/mgmtclient).
	tests := []struct {
		name       string
		server     tlsconfig.ServerConfig
		client     tlsconfig.Config
		serverLogs []string
		clientErr  string
	}{
		{name: "client trusts another CA", server: tlsconfig.ServerConfigIn(certDir), client: tlsconfig.ConfigIn(other, "agent"),
			serverLogs: []string{"bad certificate", "refused this side's certificate"}, clientErr: "certificate signed by unknown authority"},
		{name: "client certificate of another CA", server: tlsconfig.ServerConfigIn(certDir),
			client:     tlsconfig.Config{CACert: filepath.Join(certDir, "daosCA.crt"), Cert: filepath.Join(other, "agent.crt"), Key: filepath.Join(other, "agent.key")},
			serverLogs: []string{"certificate signed by unknown authority", "not signed by the CA this side trusts"}},
		{name: "expired client certificate", server: tlsconfig.ServerConfigIn(certDir), client: tlsconfig.ConfigIn(certDir, "old"),
			serverLogs: []string{"certificate has expired", "make a new one"}},
		{name: "not in client_cert_dir", server: tlsconfig.ServerConfigIn(certDir), client: tlsconfig.ConfigIn(certDir, "unlisted"),
			serverLogs: []string{"unlisted.crt does not exist"}},
		{name: "TLS client, insecure server", server: tlsconfig.ServerConfig{Config: tlsconfig.Config{AllowInsecure: true}}, client: tlsconfig.ConfigIn(certDir, "agent"),
			serverLogs: []string{"the client speaks TLS, and this server has transport_config.allow_insecure: true"}, clientErr: "remote error: tls: handshake failure"},
		{name: "insecure client, TLS server", server: tlsconfig.ServerConfigIn(certDir), client: tlsconfig.Config{AllowInsecure: true},
			serverLogs: []string{"first record does not look like a TLS handshake", "has transport_config.allow_insecure: true and this side has not"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs := &daemontest.SyncBuffer{}
			log := slog.New(slog.NewTextHandler(logs, nil))
			l := listen(t, newService(t, &engines{}, log), tc.server, log)
			invokeFails(t, dial(t, l.Addr(), tc.client), tc.clientErr)
			require.Eventually(t, func() bool { return strings.Contains(logs.String(), "management service refused a connection") }, 10*time.Second, 5*time.Millisecond)
			for _, want := range tc.serverLogs {
				assert.Contains(t, logs.String(), want)
			}
			assert.Equal(t, 1, strings.Count(logs.String(), "refused a connection"), "one line for the repeated attempts:\n%s", logs.String())
		})
	}
}

// invokeFails calls GetAttachInfo twice (a retrying client) and checks that
// it fails with an error that holds want.
func invokeFails(t *testing.T, conn *grpc.ClientConn, want string) {
	t.Helper()
	for range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var info mgmtv1.GetAttachInfoResp
		err := conn.Invoke(ctx, getAttachInfo, &mgmtv1.GetAttachInfoReq{}, &info, grpc.WaitForReady(false))
		cancel()
		require.Error(t, err)
		assert.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
		if want != "" {
			assert.Contains(t, err.Error(), want)
		}
	}
}
