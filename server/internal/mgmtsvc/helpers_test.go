package mgmtsvc_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	mgmtv1drpc "github.com/cc532012/drpc/api/mgmt/v1/mgmtv1drpc"
	"github.com/cc532012/drpc/daemon/daemontest"
	"github.com/cc532012/drpc/daemon/tlsconfig"
	"github.com/cc532012/drpc/drpc"
	mgmtv1 "github.com/cc532012/drpc/proto/drpc/mgmt/v1"
	"github.com/cc532012/drpc/server/internal/engine"
	"github.com/cc532012/drpc/server/internal/mgmtsvc"
)

const (
	pool = "8d1c3b2a-0f4e-4b6a-9c1d-2e3f4a5b6c7d"
	h1   = "11111111-2222-4333-8444-555555555555"
	h2   = "66666666-7777-4888-9999-aaaaaaaaaaaa"
)

// fakeEngine serves pool evict (230) on dir/daos_engine<index>.sock.
type fakeEngine struct {
	mgmtv1drpc.UnimplementedMgmtServiceServer
	status int32

	mu   sync.Mutex
	reqs []*mgmtv1.PoolEvictReq
}

func (f *fakeEngine) PoolEvict(_ context.Context, _ *drpc.Session, req *mgmtv1.PoolEvictReq) (*mgmtv1.PoolEvictResp, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, req)
	if f.status != 0 {
		return &mgmtv1.PoolEvictResp{Status: f.status}, nil
	}
	return &mgmtv1.PoolEvictResp{Count: int32(len(req.GetHandles()))}, nil
}

func (f *fakeEngine) requests() []*mgmtv1.PoolEvictReq {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*mgmtv1.PoolEvictReq(nil), f.reqs...)
}

// engines is a fixed list of engine statuses.
type engines struct {
	mu   sync.Mutex
	list []engine.Status
}

func (e *engines) get() []engine.Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]engine.Status(nil), e.list...)
}

func (e *engines) set(list ...engine.Status) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list = list
}

func ready(index, rank uint32, socket, uri string) engine.Status {
	return engine.Status{Info: engine.Info{Index: index, Socket: socket, URI: uri, Nctxs: 2}, Rank: rank, State: engine.Ready}
}

// startEngine serves a fake engine in dir and returns it with its status.
func startEngine(t testing.TB, dir string, index uint32, status int32) (*fakeEngine, engine.Status) {
	t.Helper()
	f := &fakeEngine{status: status}
	path := filepath.Join(dir, fmt.Sprintf("daos_engine%d.sock", index))
	daemontest.Serve(t, path, []drpc.Module{mgmtv1drpc.NewMgmtServiceModule(f)})
	return f, ready(index, index, path, fmt.Sprintf("tcp://127.0.0.1:%d", 31416+index))
}

func newService(t testing.TB, e *engines, log *slog.Logger) *mgmtsvc.Service {
	t.Helper()
	return mgmtsvc.New(mgmtsvc.Options{
		System:      "daos_server",
		NetHint:     &mgmtv1.ClientNetHint{Provider: "ofi+tcp", CrtTimeout: 30, SrvSrxSet: -1},
		Engines:     e.get,
		Caller:      engine.NewCaller(engine.CallerOptions{Policy: engine.Policy{InitialBackoff: time.Millisecond, CallTimeout: 2 * time.Second}}),
		CallTimeout: 2 * time.Second,
		Build:       "v1.2.3",
		Logger:      log,
	})
}

// assertProto checks that got equals want as protobuf messages.
func assertProto(t testing.TB, want, got proto.Message) {
	t.Helper()
	assert.Truef(t, proto.Equal(want, got), "want %v, got %v", want, got)
}

// certs makes a CA and certificates in a new directory.
func certs(t testing.TB, agents ...string) string {
	t.Helper()
	dir := t.TempDir()
	_, err := tlsconfig.GenerateFiles(tlsconfig.GenerateOptions{Dir: dir, Agents: agents})
	require.NoError(t, err)
	return dir
}

// listen starts a listener on 127.0.0.1, stopped at the end of the test.
func listen(t testing.TB, svc *mgmtsvc.Service, tc tlsconfig.ServerConfig, log *slog.Logger) *mgmtsvc.Listener {
	t.Helper()
	l, err := mgmtsvc.NewListener(mgmtsvc.ListenerOptions{Address: "127.0.0.1:0", TLS: tc, Service: svc, Logger: log})
	require.NoError(t, err)
	require.NoError(t, l.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = l.Stop(ctx)
	})
	return l
}

// dial returns a gRPC client of addr with the agent's TLS configuration
// (none if c.AllowInsecure), closed at the end of the test.
func dial(t testing.TB, addr string, c tlsconfig.Config) *grpc.ClientConn {
	t.Helper()
	creds := insecure.NewCredentials()
	if !c.AllowInsecure {
		cfg, err := tlsconfig.Client(c, tlsconfig.Options{})
		require.NoError(t, err)
		creds = credentials.NewTLS(cfg)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}
