package engine

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	mgmtv1drpc "github.com/cc532012/drpc/api/mgmt/v1/mgmtv1drpc"
	"github.com/cc532012/drpc/daemon/daemontest"
	"github.com/cc532012/drpc/drpc"
	mgmtv1 "github.com/cc532012/drpc/proto/drpc/mgmt/v1"
)

// fakeEngine serves the mgmt module and counts its calls.
type fakeEngine struct {
	mgmtv1drpc.UnimplementedMgmtServiceServer
	setRank, prep, ping atomic.Int32
	rank                atomic.Uint32
	// hang, if set, is called by every call before it answers.
	hang func(ctx context.Context, m string, n int32)
	srv  *drpc.DomainSocketServer
}

func (f *fakeEngine) SetRank(ctx context.Context, _ *drpc.Session, req *mgmtv1.SetRankReq) (*mgmtv1.DaosResp, error) {
	n := f.setRank.Add(1)
	f.rank.Store(req.GetRank())
	if f.hang != nil {
		f.hang(ctx, "SetRank", n)
	}
	return &mgmtv1.DaosResp{}, nil
}

func (f *fakeEngine) PrepShutdown(ctx context.Context, _ *drpc.Session, _ *mgmtv1.PrepShutdownReq) (*mgmtv1.DaosResp, error) {
	n := f.prep.Add(1)
	if f.hang != nil {
		f.hang(ctx, "PrepShutdown", n)
	}
	return &mgmtv1.DaosResp{}, nil
}

func (f *fakeEngine) PingRank(ctx context.Context, _ *drpc.Session, _ *mgmtv1.PingRankReq) (*mgmtv1.DaosResp, error) {
	n := f.ping.Add(1)
	if f.hang != nil {
		f.hang(ctx, "PingRank", n)
	}
	return &mgmtv1.DaosResp{}, nil
}

// startEngine serves f on path until the test ends.
func startEngine(t testing.TB, path string, f *fakeEngine, modules ...drpc.Module) *fakeEngine {
	t.Helper()
	if f != nil {
		modules = append([]drpc.Module{mgmtv1drpc.NewMgmtServiceModule(f)}, modules...)
	} else {
		f = &fakeEngine{}
	}
	f.srv = daemontest.Serve(t, path, modules)
	return f
}

// startEngineLeavingSocket serves f on path from a listener whose socket
// file stays when the engine stops, as after a crash.
func startEngineLeavingSocket(t testing.TB, path string, f *fakeEngine) *fakeEngine {
	t.Helper()
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	require.NoError(t, err)
	ln.SetUnlinkOnClose(false)
	srv, err := drpc.NewDomainSocketServerFromListener(ln)
	require.NoError(t, err)
	require.NoError(t, srv.RegisterRPCModule(mgmtv1drpc.NewMgmtServiceModule(f)))
	require.NoError(t, srv.Start(context.Background()))
	t.Cleanup(func() { stop(srv) })
	f.srv = srv
	return f
}

func stop(srv *drpc.DomainSocketServer) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
}

// records collects log records, for tests that count retries.
type records struct {
	mu   sync.Mutex
	msgs []string
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, rec.Message)
	return nil
}
func (r *records) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *records) WithGroup(string) slog.Handler      { return r }

// count returns how many records contain s.
func (r *records) count(s string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.msgs {
		if strings.Contains(m, s) {
			n++
		}
	}
	return n
}

func enginePath(dir string, index int) string {
	return filepath.Join(dir, fmt.Sprintf("daos_engine%d.sock", index))
}
