package api_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	authv1drpc "github.com/cc532012/drpc/api/auth/v1/authv1drpc"
	mgmtv1drpc "github.com/cc532012/drpc/api/mgmt/v1/mgmtv1drpc"
	srvv1drpc "github.com/cc532012/drpc/api/srv/v1/srvv1drpc"
	testv1drpc "github.com/cc532012/drpc/api/test/v1/testv1drpc"
	"github.com/cc532012/drpc/drpc"
	"github.com/cc532012/drpc/drpc/catalog"
	authv1 "github.com/cc532012/drpc/proto/drpc/auth/v1"
	testv1 "github.com/cc532012/drpc/proto/drpc/test/v1"
)

// Payloads that make echoServer misbehave.
var (
	payloadFailure   = []byte("failure")   // a *drpc.Failure with StatusSubmitted
	payloadPlainErr  = []byte("plain")     // an error that is not a *drpc.Failure
	payloadNilReply  = []byte("nil-reply") // a nil reply and a nil error
	payloadWantEmpty = []byte(nil)         // the request must be empty
)

// echoServer implements TestService (module 0).
type echoServer struct{}

func (echoServer) Echo(ctx context.Context, s *drpc.Session, req *testv1.EchoRequest) (*testv1.EchoResponse, error) {
	if ctx == nil || s == nil {
		return nil, errors.New("no context or session")
	}
	switch {
	case bytes.Equal(req.GetPayload(), payloadFailure):
		return nil, drpc.NewFailure(drpc.StatusSubmitted, "")
	case bytes.Equal(req.GetPayload(), payloadPlainErr):
		return nil, errors.New("plain error")
	case bytes.Equal(req.GetPayload(), payloadNilReply):
		return nil, nil
	}
	return &testv1.EchoResponse{Payload: req.GetPayload()}, nil
}

// agentServer implements SecurityAgentService (module 1): it answers with a
// credential whose origin is the current value of origin and whose status is
// the caller's uid, read from the session.
type agentServer struct {
	authv1drpc.UnimplementedSecurityAgentServiceServer
	origin atomic.Pointer[string]
}

func (a *agentServer) RequestCredentials(_ context.Context, s *drpc.Session, req *authv1.GetCredReq) (*authv1.GetCredResp, error) {
	if req == nil {
		return nil, errors.New("nil request")
	}
	return &authv1.GetCredResp{
		Status: int32(s.PeerCredentials().UID),
		Cred:   &authv1.Credential{Origin: *a.origin.Load()},
	}, nil
}

// startServer serves the generated modules of the schema on a fresh socket
// (in a short temporary folder: t.TempDir paths can exceed the 108-byte
// socket path limit) and returns a connected client.
func startServer(t *testing.T) (*drpc.ClientConnection, *agentServer) {
	t.Helper()
	dir, err := os.MkdirTemp("", "drpcapi")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	path := filepath.Join(dir, "api.sock")

	srv, err := drpc.NewDomainSocketServer(path, drpc.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	agent := new(agentServer)
	origin := "agent"
	agent.origin.Store(&origin)
	for _, m := range []drpc.Module{
		testv1drpc.NewTestServiceModule(echoServer{}),
		authv1drpc.NewSecurityAgentServiceModule(agent),
		// Module 4 implements nothing: every method answers UNKNOWN_METHOD.
		authv1drpc.NewSecurityServiceModule(authv1drpc.UnimplementedSecurityServiceServer{}),
	} {
		require.NoError(t, srv.RegisterRPCModule(m), "register %s", m)
	}
	require.NoError(t, srv.Start(t.Context()))
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })

	client := drpc.NewClientConnection(path)
	require.NoError(t, client.Connect(t.Context()))
	t.Cleanup(func() { _ = client.Close() })
	return client, agent
}

// TestGeneratedClientAndModule calls generated modules through generated
// clients over a real socket.
func TestGeneratedClientAndModule(t *testing.T) {
	client, agent := startServer(t)
	echo := testv1drpc.NewTestServiceClient(client)
	ctx := t.Context()

	tests := []struct {
		name       string
		payload    []byte
		want       []byte      // the reply's payload, if the call succeeds
		wantStatus drpc.Status // the failure's status otherwise
	}{
		{"success", []byte("hello"), []byte("hello"), drpc.StatusSuccess},
		{"empty request", payloadWantEmpty, nil, drpc.StatusSuccess},
		{"large request", bytes.Repeat([]byte{7}, 300_000), bytes.Repeat([]byte{7}, 300_000), drpc.StatusSuccess},
		{"nil reply is an empty reply", payloadNilReply, nil, drpc.StatusSuccess},
		{"handler returns a Failure", payloadFailure, nil, drpc.StatusSubmitted},
		{"handler returns another error", payloadPlainErr, nil, drpc.StatusFailure},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reply, err := echo.Echo(ctx, &testv1.EchoRequest{Payload: tc.payload})
			if tc.wantStatus == drpc.StatusSuccess {
				require.NoError(t, err)
				assert.Equal(t, tc.want, reply.GetPayload())
				return
			}
			require.Error(t, err)
			assert.Nil(t, reply)
			var f *drpc.Failure
			require.ErrorAs(t, err, &f)
			assert.Equal(t, tc.wantStatus, f.Status())
			assert.Equal(t, tc.wantStatus, drpc.StatusOf(err))
		})
	}

	t.Run("nil request is an empty request", func(t *testing.T) {
		reply, err := echo.Echo(ctx, nil)
		require.NoError(t, err)
		assert.Empty(t, reply.GetPayload())
	})

	t.Run("session reaches the handler", func(t *testing.T) {
		reply, err := authv1drpc.NewSecurityAgentServiceClient(client).RequestCredentials(ctx, nil)
		require.NoError(t, err)
		assert.Equal(t, int32(os.Getuid()), reply.GetStatus())
		assert.Equal(t, "agent", reply.GetCred().GetOrigin())
	})

	t.Run("reply that cannot be encoded", func(t *testing.T) {
		bad := "\xff not UTF-8"
		agent.origin.Store(&bad)
		t.Cleanup(func() { good := "agent"; agent.origin.Store(&good) })
		_, err := authv1drpc.NewSecurityAgentServiceClient(client).RequestCredentials(ctx, &authv1.GetCredReq{})
		var f *drpc.Failure
		require.ErrorAs(t, err, &f)
		assert.Equal(t, drpc.StatusFailedMarshal, f.Status())
	})

	t.Run("unimplemented method", func(t *testing.T) {
		reply, err := authv1drpc.NewSecurityServiceClient(client).ValidateCredentials(ctx, &authv1.ValidateCredReq{})
		assert.Nil(t, reply)
		var f *drpc.Failure
		require.ErrorAs(t, err, &f)
		assert.Equal(t, drpc.StatusUnknownMethod, f.Status())
		assert.Equal(t, drpc.StatusUnknownMethod, drpc.StatusOf(err))
	})

	t.Run("unregistered module", func(t *testing.T) {
		_, err := mgmtv1drpc.NewMgmtServiceClient(client).PingRank(ctx, nil)
		assert.Equal(t, drpc.StatusUnknownModule, drpc.StatusOf(err))
	})
}

// TestGeneratedModuleRawCalls sends hand-made calls to a generated module:
// the adapter must answer bodies that do not decode and method IDs it does
// not serve with the right status.
func TestGeneratedModuleRawCalls(t *testing.T) {
	client, _ := startServer(t)
	echoBody, err := proto.Marshal(&testv1.EchoRequest{Payload: []byte("raw")})
	require.NoError(t, err)

	tests := []struct {
		name       string
		call       *drpc.Call
		wantStatus drpc.Status
	}{
		{"valid body", &drpc.Call{Module: 0, Method: 1, Body: echoBody}, drpc.StatusSuccess},
		{"empty body", &drpc.Call{Module: 0, Method: 1}, drpc.StatusSuccess},
		// Field 1 says 5 bytes follow; one does.
		{"body that does not decode", &drpc.Call{Module: 0, Method: 1, Body: []byte{0x0a, 0x05, 'x'}}, drpc.StatusFailedUnmarshalPayload},
		{"method the module does not declare", &drpc.Call{Module: 0, Method: 2}, drpc.StatusUnknownMethod},
		{"method of another module's range", &drpc.Call{Module: 0, Method: 101}, drpc.StatusUnknownMethod},
		{"request of an unimplemented method that does not decode", &drpc.Call{Module: 4, Method: 401, Body: []byte{0xff}}, drpc.StatusFailedUnmarshalPayload},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := client.SendMsg(t.Context(), tc.call)
			require.NoError(t, err)
			assert.Equal(t, tc.wantStatus, resp.GetStatus())
			if tc.wantStatus == drpc.StatusFailedUnmarshalPayload {
				assert.Contains(t, string(resp.GetBody()), "does not decode", "a failure carries its reason")
			}
		})
	}
}

// fakeSender answers every call with resp, or fails with err, and keeps
// the last call.
type fakeSender struct {
	resp *drpc.Response
	err  error
	last *drpc.Call
}

func (f *fakeSender) SendMsg(_ context.Context, call *drpc.Call) (*drpc.Response, error) {
	f.last = call
	return f.resp, f.err
}

// TestGeneratedClientErrors checks the errors a generated client returns
// that a real server does not easily produce.
func TestGeneratedClientErrors(t *testing.T) {
	ctx := t.Context()
	t.Run("call fields", func(t *testing.T) {
		s := &fakeSender{resp: &drpc.Response{}}
		_, err := mgmtv1drpc.NewMgmtServiceClient(s).PrepShutdown(ctx, nil)
		require.NoError(t, err)
		assert.Equal(t, int32(mgmtv1drpc.MgmtServiceModuleID), s.last.GetModule())
		assert.Equal(t, int32(218), s.last.GetMethod())
		assert.Empty(t, s.last.GetBody())
	})
	t.Run("transport error passes through", func(t *testing.T) {
		s := &fakeSender{err: drpc.ErrNotConnected}
		_, err := srvv1drpc.NewSrvServiceClient(s).NotifyReady(ctx, nil)
		assert.ErrorIs(t, err, drpc.ErrNotConnected)
	})
	t.Run("reply that does not decode", func(t *testing.T) {
		s := &fakeSender{resp: &drpc.Response{Body: []byte{0x0a, 0x05, 'x'}}}
		reply, err := testv1drpc.NewTestServiceClient(s).Echo(ctx, nil)
		assert.Nil(t, reply)
		require.ErrorIs(t, err, drpc.ErrMalformedReply)
		var f *drpc.Failure
		assert.False(t, errors.As(err, &f), "the server succeeded: not a Failure")
	})
	t.Run("request that cannot be encoded is not sent", func(t *testing.T) {
		s := &fakeSender{resp: &drpc.Response{}}
		_, err := srvv1drpc.NewSrvServiceClient(s).NotifyReady(ctx, nil)
		require.NoError(t, err)
		s.last = nil
		_, err = authv1drpc.NewSecurityServiceClient(s).ValidateCredentials(ctx,
			&authv1.ValidateCredReq{Cred: &authv1.Credential{Origin: "\xff"}})
		require.Error(t, err)
		assert.Nil(t, s.last)
	})
}

// TestGeneratedCatalog checks the entries the generated packages register.
func TestGeneratedCatalog(t *testing.T) {
	require.NoError(t, catalog.Err())
	tests := []struct {
		method   drpc.Method
		service  string
		name     string
		request  string
		response string
	}{
		{testv1drpc.TestServiceEchoMethod, "drpc.test.v1.TestService", "Echo", "drpc.test.v1.EchoRequest", "drpc.test.v1.EchoResponse"},
		{authv1drpc.SecurityAgentServiceRequestCredentialsMethod, "drpc.auth.v1.SecurityAgentService", "RequestCredentials", "drpc.auth.v1.GetCredReq", "drpc.auth.v1.GetCredResp"},
		{mgmtv1drpc.MgmtServiceSetRankMethod, "drpc.mgmt.v1.MgmtService", "SetRank", "drpc.mgmt.v1.SetRankReq", "drpc.mgmt.v1.DaosResp"},
		{mgmtv1drpc.MgmtServicePrepShutdownMethod, "drpc.mgmt.v1.MgmtService", "PrepShutdown", "drpc.mgmt.v1.PrepShutdownReq", "drpc.mgmt.v1.DaosResp"},
		{mgmtv1drpc.MgmtServicePingRankMethod, "drpc.mgmt.v1.MgmtService", "PingRank", "drpc.mgmt.v1.PingRankReq", "drpc.mgmt.v1.DaosResp"},
		{mgmtv1drpc.MgmtServiceGetAttachInfoMethod, "drpc.mgmt.v1.MgmtService", "GetAttachInfo", "drpc.mgmt.v1.GetAttachInfoReq", "drpc.mgmt.v1.GetAttachInfoResp"},
		{mgmtv1drpc.MgmtServicePoolEvictMethod, "drpc.mgmt.v1.MgmtService", "PoolEvict", "drpc.mgmt.v1.PoolEvictReq", "drpc.mgmt.v1.PoolEvictResp"},
		{mgmtv1drpc.MgmtServiceNotifyExitMethod, "drpc.mgmt.v1.MgmtService", "NotifyExit", "google.protobuf.Empty", "drpc.mgmt.v1.DaosResp"},
		{mgmtv1drpc.MgmtServiceNotifyPoolConnectMethod, "drpc.mgmt.v1.MgmtService", "NotifyPoolConnect", "drpc.mgmt.v1.PoolMonitorReq", "drpc.mgmt.v1.DaosResp"},
		{mgmtv1drpc.MgmtServiceNotifyPoolDisconnectMethod, "drpc.mgmt.v1.MgmtService", "NotifyPoolDisconnect", "drpc.mgmt.v1.PoolMonitorReq", "drpc.mgmt.v1.DaosResp"},
		{srvv1drpc.SrvServiceNotifyReadyMethod, "drpc.srv.v1.SrvService", "NotifyReady", "drpc.srv.v1.NotifyReadyReq", "drpc.srv.v1.NotifyReadyResp"},
		{srvv1drpc.SrvServiceClusterEventMethod, "drpc.srv.v1.SrvService", "ClusterEvent", "drpc.srv.v1.ClusterEventReq", "drpc.srv.v1.ClusterEventResp"},
		{authv1drpc.SecurityServiceValidateCredentialsMethod, "drpc.auth.v1.SecurityService", "ValidateCredentials", "drpc.auth.v1.ValidateCredReq", "drpc.auth.v1.ValidateCredResp"},
	}
	var want []drpc.MethodID
	for _, tc := range tests {
		t.Run(tc.method.String(), func(t *testing.T) {
			e, ok := catalog.Lookup(tc.method.Module(), tc.method.ID())
			require.True(t, ok)
			assert.Equal(t, tc.service, string(e.Service))
			assert.Equal(t, tc.name, string(e.MethodName))
			assert.Equal(t, tc.request, string(e.Request.Descriptor().FullName()))
			assert.Equal(t, tc.response, string(e.Response.Descriptor().FullName()))
			assert.Equal(t, tc.method, e.Method(), "the catalog's Method equals the generated one")
			assert.Equal(t, tc.service+"."+tc.name, tc.method.String())
		})
		want = append(want, tc.method.ID())
	}
	var got []drpc.MethodID
	for _, e := range catalog.All() {
		got = append(got, e.MethodID)
	}
	assert.Equal(t, []drpc.MethodID{1, 101, 202, 206, 218, 225, 230, 233, 235, 236, 301, 304, 401}, got)
	assert.ElementsMatch(t, want, got)

	// The IDs the schema gives the DAOS modules.
	assert.Equal(t, drpc.ModuleID(0), testv1drpc.TestServiceModuleID)
	assert.Equal(t, drpc.ModuleID(1), authv1drpc.SecurityAgentServiceModuleID)
	assert.Equal(t, drpc.ModuleID(2), mgmtv1drpc.MgmtServiceModuleID)
	assert.Equal(t, drpc.ModuleID(3), srvv1drpc.SrvServiceModuleID)
	assert.Equal(t, drpc.ModuleID(4), authv1drpc.SecurityServiceModuleID)
}

// TestGeneratedModules checks what the server relies on at registration.
func TestGeneratedModules(t *testing.T) {
	tests := []struct {
		module  drpc.Module
		id      drpc.ModuleID
		name    string
		methods []drpc.Method
	}{
		{testv1drpc.NewTestServiceModule(testv1drpc.UnimplementedTestServiceServer{}), 0, testv1drpc.TestServiceName,
			[]drpc.Method{testv1drpc.TestServiceEchoMethod}},
		{mgmtv1drpc.NewMgmtServiceModule(mgmtv1drpc.UnimplementedMgmtServiceServer{}), 2, mgmtv1drpc.MgmtServiceName,
			[]drpc.Method{mgmtv1drpc.MgmtServiceSetRankMethod, mgmtv1drpc.MgmtServiceGetAttachInfoMethod, mgmtv1drpc.MgmtServicePrepShutdownMethod,
				mgmtv1drpc.MgmtServicePingRankMethod, mgmtv1drpc.MgmtServicePoolEvictMethod, mgmtv1drpc.MgmtServiceNotifyExitMethod,
				mgmtv1drpc.MgmtServiceNotifyPoolConnectMethod, mgmtv1drpc.MgmtServiceNotifyPoolDisconnectMethod}},
		{srvv1drpc.NewSrvServiceModule(srvv1drpc.UnimplementedSrvServiceServer{}), 3, srvv1drpc.SrvServiceName,
			[]drpc.Method{srvv1drpc.SrvServiceNotifyReadyMethod, srvv1drpc.SrvServiceClusterEventMethod}},
		{authv1drpc.NewSecurityAgentServiceModule(authv1drpc.UnimplementedSecurityAgentServiceServer{}), 1, authv1drpc.SecurityAgentServiceName,
			[]drpc.Method{authv1drpc.SecurityAgentServiceRequestCredentialsMethod}},
		{authv1drpc.NewSecurityServiceModule(authv1drpc.UnimplementedSecurityServiceServer{}), 4, authv1drpc.SecurityServiceName,
			[]drpc.Method{authv1drpc.SecurityServiceValidateCredentialsMethod}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.id, tc.module.ID())
			assert.Equal(t, tc.name, tc.module.String())
			lister, ok := tc.module.(drpc.MethodLister)
			require.True(t, ok, "generated modules list their methods")
			assert.Equal(t, tc.methods, lister.Methods())
			for _, m := range tc.methods {
				got, err := tc.module.GetMethod(m.ID())
				require.NoError(t, err)
				assert.Equal(t, m, got)
			}
			_, err := tc.module.GetMethod(drpc.MethodID(tc.id)*100 + 99)
			assert.Equal(t, drpc.StatusUnknownMethod, drpc.StatusOf(err))
		})
	}
	assert.Panics(t, func() { testv1drpc.NewTestServiceModule(nil) })
}
