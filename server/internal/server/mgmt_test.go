package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	srvv1drpc "github.com/cc532012/drpc/api/srv/v1/srvv1drpc"
	"github.com/cc532012/drpc/daemon/daemontest"
	"github.com/cc532012/drpc/daemon/tlsconfig"
	"github.com/cc532012/drpc/drpc"
	mgmtv1 "github.com/cc532012/drpc/proto/drpc/mgmt/v1"
	srvv1 "github.com/cc532012/drpc/proto/drpc/srv/v1"
)

// withTLS sets the server's transport_config to the certificates of a new
// CA, and returns the agent's.
func withTLS(t *testing.T, c *Config) tlsconfig.Config {
	t.Helper()
	dir := t.TempDir()
	_, err := tlsconfig.GenerateFiles(tlsconfig.GenerateOptions{Dir: dir})
	require.NoError(t, err)
	c.Transport = tlsconfig.ServerConfigIn(dir)
	return tlsconfig.ConfigIn(dir, "agent")
}

// notifyWithURI notifies ready for a fake engine, with a fabric URI.
func notifyWithURI(ctx context.Context, socket string, f *fakeEngine) error {
	conn := drpc.NewClientConnection(socket)
	if err := conn.Connect(ctx); err != nil {
		return err
	}
	defer conn.Close()
	_, err := srvv1drpc.NewSrvServiceClient(conn).NotifyReady(ctx, &srvv1.NotifyReadyReq{
		InstanceIdx: f.index, DrpcListenerSock: f.path, Uri: fmt.Sprintf("tcp://127.0.0.1:%d", 31416+f.index), Nctxs: 4,
	})
	return err
}

// TestManagementService: the server serves GetAttachInfo and PoolEvict over
// mutual TLS on a free port; the status shows the address and the
// evictions; SIGUSR2's Reload reads the certificates again.
func TestManagementService(t *testing.T) {
	dir := daemontest.SocketDir(t)
	var agentTLS tlsconfig.Config
	s := newServer(t, dir, func(c *Config) {
		agentTLS = withTLS(t, c)
		c.Name = "tank"
	})
	require.NoError(t, s.Start(context.Background()))
	addr := s.MgmtAddr()
	require.True(t, strings.HasPrefix(addr, "127.0.0.1:"), addr)

	ctx := context.Background()
	e0, e1 := startFakeEngine(t, dir, 0), startFakeEngine(t, dir, 1)
	require.NoError(t, notifyWithURI(ctx, s.SocketPath(), e0))
	require.NoError(t, notifyWithURI(ctx, s.SocketPath(), e1))

	tc, err := tlsconfig.Client(agentTLS, tlsconfig.Options{})
	require.NoError(t, err)
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(tc)))
	require.NoError(t, err)
	defer conn.Close()
	var info mgmtv1.GetAttachInfoResp
	require.NoError(t, conn.Invoke(ctx, "/mgmt.MgmtSvc/GetAttachInfo", &mgmtv1.GetAttachInfoReq{Sys: "tank"}, &info))
	assert.Equal(t, "tank", info.GetSys())
	require.Len(t, info.GetRankUris(), 2)
	assert.Equal(t, "tcp://127.0.0.1:31416", info.GetRankUris()[0].GetUri())
	assert.EqualValues(t, 4, info.GetRankUris()[1].GetNumCtxs())
	assert.Equal(t, DefaultProvider, info.GetClientNetHint().GetProvider())

	const pool, handle = "8d1c3b2a-0f4e-4b6a-9c1d-2e3f4a5b6c7d", "11111111-2222-4333-8444-555555555555"
	var ev mgmtv1.PoolEvictResp
	require.NoError(t, conn.Invoke(ctx, "/mgmt.MgmtSvc/PoolEvict", &mgmtv1.PoolEvictReq{Id: pool, Handles: []string{handle}, Machine: "client1"}, &ev))
	assert.EqualValues(t, 2, ev.GetCount())
	assert.EqualValues(t, 1, e0.evicted.Load())
	assert.EqualValues(t, 1, e1.evicted.Load())

	status, err := FetchStatus(ctx, s.SocketPath())
	require.NoError(t, err)
	var text, js bytes.Buffer
	require.NoError(t, WriteStatusText(&text, status, time.Now()))
	require.NoError(t, WriteStatusJSON(&js, status))
	for _, want := range []string{
		"management service: system tank, listening on " + addr + ", mutual TLS",
		"pool evictions: 1 asked for, 2 handles evicted",
		`pool ` + pool + ` machine "client1" asked by agent (127.0.0.1:`,
		"2 evicted (engine 0: 1, engine 1: 1)",
		"handle " + handle,
	} {
		assert.Contains(t, text.String(), want)
	}
	var got StatusJSON
	require.NoError(t, json.Unmarshal(js.Bytes(), &got))
	assert.Equal(t, addr, got.Server.MgmtAddress)
	assert.True(t, got.Server.MgmtTLS)
	assert.EqualValues(t, 2, got.Server.HandlesEvicted)
	require.Len(t, got.Evictions, 1)
	assert.Equal(t, []string{handle}, got.Evictions[0].Handles)
	assert.Equal(t, "agent", got.Evictions[0].PeerName)
	assert.Len(t, got.Evictions[0].Engines, 2)

	// Reload: a key that others may read is refused and the old files stay;
	// fixed, it is read again.
	require.NoError(t, os.Chmod(s.Config().Transport.Key, 0o644))
	require.ErrorIs(t, s.Reload(), tlsconfig.ErrPermissions)
	require.NoError(t, os.Chmod(s.Config().Transport.Key, 0o400))
	require.NoError(t, s.Reload())
	require.NoError(t, conn.Invoke(ctx, "/mgmt.MgmtSvc/GetAttachInfo", &mgmtv1.GetAttachInfoReq{}, &info))

	require.NoError(t, s.Shutdown(ctx))
	_, err = os.Stat(s.SocketPath())
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// TestBadTLSLeavesNothing: a server whose certificate cannot be used does
// not start, says which file and what to do, and leaves no socket.
func TestBadTLSLeavesNothing(t *testing.T) {
	dir := daemontest.SocketDir(t)
	s := newServer(t, dir, func(c *Config) {
		withTLS(t, c)
		c.Transport.Cert = filepath.Join(dir, "none.crt")
	})
	err := s.Start(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "management service: transport_config: cert")
	assert.Contains(t, err.Error(), "none.crt")
	_, err = os.Stat(s.SocketPath())
	assert.ErrorIs(t, err, os.ErrNotExist, "the socket is removed")
	assert.Empty(t, s.MgmtAddr())
}
