package agent_test

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/cc532012/drpc/agent/internal/agent"
	mgmtv1drpc "github.com/cc532012/drpc/api/mgmt/v1/mgmtv1drpc"
	"github.com/cc532012/drpc/daemon/daemontest"
	"github.com/cc532012/drpc/daemon/tlsconfig"
	mgmtv1 "github.com/cc532012/drpc/proto/drpc/mgmt/v1"
)

// mgmtServer is a server's management service, as a DAOS server serves it:
// a hand-written grpc.ServiceDesc of mgmt.MgmtSvc.
type mgmtServer struct{ infos atomic.Int32 }

type mgmtHandler interface{ count() int32 }

func (m *mgmtServer) count() int32 { return m.infos.Load() }

// serveMgmt serves a management service with mutual TLS on a free port of
// 127.0.0.1 and returns its address and the agent's transport_config.
func serveMgmt(t *testing.T) (*mgmtServer, string, tlsconfig.Config) {
	t.Helper()
	dir := t.TempDir()
	_, err := tlsconfig.GenerateFiles(tlsconfig.GenerateOptions{Dir: dir})
	require.NoError(t, err)
	st, err := tlsconfig.NewServerTLS(tlsconfig.ServerConfigIn(dir), tlsconfig.Options{NextProtos: []string{"h2"}})
	require.NoError(t, err)
	m := &mgmtServer{}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(st.Config())))
	srv.RegisterService(&grpc.ServiceDesc{
		ServiceName: "mgmt.MgmtSvc",
		HandlerType: (*mgmtHandler)(nil),
		Methods: []grpc.MethodDesc{{MethodName: "GetAttachInfo", Handler: func(srv any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			req := new(mgmtv1.GetAttachInfoReq)
			if err := dec(req); err != nil {
				return nil, err
			}
			srv.(*mgmtServer).infos.Add(1)
			return &mgmtv1.GetAttachInfoResp{Sys: req.GetSys(), RankUris: []*mgmtv1.GetAttachInfoResp_RankUri{{Rank: 3, Uri: "tcp://127.0.0.1:31419"}}}, nil
		}}},
	}, m)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return m, ln.Addr().String(), tlsconfig.ConfigIn(dir, "agent")
}

// TestManagementModule: an agent with an access point serves module 2: the
// attach info from the server over mutual TLS, from its cache after the
// first call; Reload (SIGUSR2) fetches it again.
func TestManagementModule(t *testing.T) {
	m, addr, tc := serveMgmt(t)
	cfg := testConfig(t)
	cfg.AllowInsecure = true
	cfg.AccessPoints = []string{"127.0.0.9:1", addr} // the first is down
	cfg.Transport = tc
	logs := &daemontest.SyncBuffer{}
	a := startAgent(t, cfg, agent.Options{Logger: logger(logs)})
	assert.Contains(t, logs.String(), `msg="agent asks the servers for attach info and evictions" access_points="[127.0.0.9:1 `+addr+`]" tls=true`)

	client := mgmtv1drpc.NewMgmtServiceClient(daemontest.Connect(t, a.SocketPath()))
	ctx := context.Background()
	require.Eventually(t, func() bool {
		resp, err := client.GetAttachInfo(ctx, &mgmtv1.GetAttachInfoReq{})
		return err == nil && len(resp.GetRankUris()) == 1
	}, 10*time.Second, 5*time.Millisecond)
	resp, err := client.GetAttachInfo(ctx, &mgmtv1.GetAttachInfoReq{Sys: "daos_server"})
	require.NoError(t, err)
	assert.Equal(t, "tcp://127.0.0.1:31419", resp.GetRankUris()[0].GetUri())
	assert.EqualValues(t, 1, m.infos.Load(), "warm calls do not reach the server")
	assert.Contains(t, logs.String(), `msg="management service access point answered" access_point=`+addr)

	require.NoError(t, a.Reload())
	require.Eventually(t, func() bool { return m.infos.Load() == 2 }, 10*time.Second, 5*time.Millisecond)
	assert.True(t, strings.Contains(logs.String(), "attach info fetched again"))
}
