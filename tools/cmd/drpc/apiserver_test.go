package main

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"google.golang.org/protobuf/proto"

	authv1drpc "github.com/cc532012/drpc/api/auth/v1/authv1drpc"
	controlv1drpc "github.com/cc532012/drpc/api/control/v1/controlv1drpc"
	mgmtv1drpc "github.com/cc532012/drpc/api/mgmt/v1/mgmtv1drpc"
	srvv1drpc "github.com/cc532012/drpc/api/srv/v1/srvv1drpc"
	testv1drpc "github.com/cc532012/drpc/api/test/v1/testv1drpc"
	"github.com/cc532012/drpc/daemon/daemontest"
	"github.com/cc532012/drpc/drpc"
	controlv1 "github.com/cc532012/drpc/proto/drpc/control/v1"
	mgmtv1 "github.com/cc532012/drpc/proto/drpc/mgmt/v1"
	srvv1 "github.com/cc532012/drpc/proto/drpc/srv/v1"
	testv1 "github.com/cc532012/drpc/proto/drpc/test/v1"
)

// The small implementations of the generated servers that the API server
// of the tests runs.

// controlImpl answers GetStatus with a fixed status.
type controlImpl struct {
	controlv1drpc.UnimplementedControlServiceServer
}

func (controlImpl) GetStatus(context.Context, *drpc.Session, *controlv1.GetStatusReq) (*controlv1.GetStatusResp, error) {
	return &controlv1.GetStatusResp{Server: &controlv1.ServerStatus{SocketDir: "/run/daos_server", EventsKept: 1, MaxEvents: 100}}, nil
}

type echoImpl struct {
	testv1drpc.UnimplementedTestServiceServer
}

func (echoImpl) Echo(_ context.Context, _ *drpc.Session, req *testv1.EchoRequest) (*testv1.EchoResponse, error) {
	return &testv1.EchoResponse{Payload: req.GetPayload()}, nil
}

// srvImpl records the last NotifyReady request.
type srvImpl struct {
	srvv1drpc.UnimplementedSrvServiceServer
	mu   sync.Mutex
	last *srvv1.NotifyReadyReq
}

func (s *srvImpl) NotifyReady(_ context.Context, _ *drpc.Session, req *srvv1.NotifyReadyReq) (*srvv1.NotifyReadyResp, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last = proto.CloneOf(req)
	return &srvv1.NotifyReadyResp{}, nil
}

func (s *srvImpl) lastReady() *srvv1.NotifyReadyReq {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// mgmtImpl answers PingRank with -rank, so the reply shows the request;
// fails SetRank with a message; fails every second PrepShutdown.
type mgmtImpl struct {
	mgmtv1drpc.UnimplementedMgmtServiceServer
	prep atomic.Int64
}

func (*mgmtImpl) PingRank(_ context.Context, _ *drpc.Session, req *mgmtv1.PingRankReq) (*mgmtv1.DaosResp, error) {
	return &mgmtv1.DaosResp{Status: -int32(req.GetRank())}, nil
}

func (*mgmtImpl) SetRank(context.Context, *drpc.Session, *mgmtv1.SetRankReq) (*mgmtv1.DaosResp, error) {
	return nil, drpc.NewFailure(drpc.StatusFailure, "rank is not known")
}

func (m *mgmtImpl) PrepShutdown(context.Context, *drpc.Session, *mgmtv1.PrepShutdownReq) (*mgmtv1.DaosResp, error) {
	if m.prep.Add(1)%2 == 0 {
		return nil, drpc.NewFailure(drpc.StatusFailure, "")
	}
	return &mgmtv1.DaosResp{}, nil
}

// apiServer is an in-process server with the generated modules.
type apiServer struct {
	socket string
	srv    *srvImpl
}

// startAPIServer serves the generated modules (test echo, srv, mgmt, and
// the security module with nothing implemented) on a new socket until the
// end of the test.
func startAPIServer(t *testing.T, opts ...drpc.ServerOption) *apiServer {
	t.Helper()
	a := &apiServer{socket: filepath.Join(socketDir(t), "api.sock"), srv: &srvImpl{}}
	s := daemontest.Serve(t, a.socket, []drpc.Module{
		testv1drpc.NewTestServiceModule(echoImpl{}),
		srvv1drpc.NewSrvServiceModule(a.srv),
		mgmtv1drpc.NewMgmtServiceModule(&mgmtImpl{}),
		authv1drpc.NewSecurityServiceModule(authv1drpc.UnimplementedSecurityServiceServer{}),
		controlv1drpc.NewControlServiceModule(controlImpl{}),
	}, opts...)
	t.Cleanup(func() { // runs before Serve's own, to check the shutdown
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, s.Shutdown(ctx))
	})
	return a
}
