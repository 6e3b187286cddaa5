package mgmtagent_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/agent/internal/mgmtagent"
	mgmtv1drpc "github.com/cc532012/drpc/api/mgmt/v1/mgmtv1drpc"
	"github.com/cc532012/drpc/daemon/daemontest"
	"github.com/cc532012/drpc/drpc"
	mgmtv1 "github.com/cc532012/drpc/proto/drpc/mgmt/v1"
)

const (
	waitFor = 10 * time.Second
	tick    = 2 * time.Millisecond
	pool    = "8d1c3b2a-0f4e-4b6a-9c1d-2e3f4a5b6c7d"
	pool2   = "9d1c3b2a-0f4e-4b6a-9c1d-2e3f4a5b6c7d"
	h1      = "11111111-2222-4333-8444-555555555555"
	h2      = "66666666-7777-4888-9999-aaaaaaaaaaaa"
)

// upstream is a server stand-in: it counts the calls and records the
// evictions.
type upstream struct {
	fail    atomic.Bool
	version atomic.Uint64
	infos   atomic.Int32

	mu        sync.Mutex
	evictions []*mgmtv1.PoolEvictReq
	evicted   chan *mgmtv1.PoolEvictReq
}

func newUpstream() *upstream { return &upstream{evicted: make(chan *mgmtv1.PoolEvictReq, 100)} }

func (u *upstream) GetAttachInfo(_ context.Context, req *mgmtv1.GetAttachInfoReq) (*mgmtv1.GetAttachInfoResp, error) {
	u.infos.Add(1)
	if u.fail.Load() {
		return nil, errors.New("the server is down")
	}
	return &mgmtv1.GetAttachInfoResp{
		Sys:           req.GetSys(),
		RankUris:      []*mgmtv1.GetAttachInfoResp_RankUri{{Rank: 0, Uri: "tcp://127.0.0.1:31416", NumCtxs: 1}, {Rank: 1, Uri: "tcp://127.0.0.1:31417", NumCtxs: 1}},
		MsRanks:       []uint32{0, 1},
		DataVersion:   u.version.Load(),
		ClientNetHint: &mgmtv1.ClientNetHint{Provider: "ofi+tcp", CrtTimeout: 30, SrvSrxSet: -1},
		BuildInfo:     &mgmtv1.BuildInfo{Major: 1, Tag: "v1.0.0"},
	}, nil
}

func (u *upstream) PoolEvict(_ context.Context, req *mgmtv1.PoolEvictReq) (*mgmtv1.PoolEvictResp, error) {
	u.mu.Lock()
	u.evictions = append(u.evictions, req)
	u.mu.Unlock()
	u.evicted <- req
	return &mgmtv1.PoolEvictResp{Count: int32(len(req.GetHandles()))}, nil
}

func (u *upstream) evictionCount() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.evictions)
}

// agent is the module served on a socket, with its logs.
type agent struct {
	svc    *mgmtagent.Service
	socket string
	logs   *daemontest.SyncBuffer
}

func startAgent(t testing.TB, opts mgmtagent.Options) *agent {
	t.Helper()
	logs := &daemontest.SyncBuffer{}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if opts.System == "" {
		opts.System = "daos_server"
	}
	svc := mgmtagent.New(opts)
	socket := filepath.Join(daemontest.SocketDir(t), "daos_agent.sock")
	daemontest.Serve(t, socket, []drpc.Module{svc.Module()}, drpc.WithSocketMode(0o666))
	require.NoError(t, svc.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = svc.Stop(ctx)
	})
	return &agent{svc: svc, socket: socket, logs: logs}
}

func (a *agent) client(t testing.TB) mgmtv1drpc.MgmtServiceClient {
	return mgmtv1drpc.NewMgmtServiceClient(daemontest.Connect(t, a.socket))
}

func TestGetAttachInfoCache(t *testing.T) {
	up := newUpstream()
	up.version.Store(1)
	a := startAgent(t, mgmtagent.Options{Upstream: up, TTL: time.Hour})
	c := a.client(t)
	ctx := context.Background()

	resp, err := c.GetAttachInfo(ctx, &mgmtv1.GetAttachInfoReq{AllRanks: true})
	require.NoError(t, err)
	assert.Zero(t, resp.GetStatus())
	require.Len(t, resp.GetRankUris(), 2)
	assert.Equal(t, "daos_server", resp.GetSys())
	// Warm: no more calls to the server.
	for range 50 {
		_, err := c.GetAttachInfo(ctx, &mgmtv1.GetAttachInfoReq{Sys: "daos_server"})
		require.NoError(t, err)
	}
	assert.EqualValues(t, 1, up.infos.Load(), "one fetch for 51 calls")
	assert.Contains(t, a.logs.String(), `msg="attach info from the server" system=daos_server ranks=2 data_version=1 ttl=1h0m0s`)

	// Refresh (SIGUSR2): fetched again at once.
	up.version.Store(2)
	a.svc.Refresh()
	require.Eventually(t, func() bool {
		resp, err := c.GetAttachInfo(ctx, &mgmtv1.GetAttachInfoReq{})
		return err == nil && resp.GetDataVersion() == 2
	}, daemontest.WaitFor, daemontest.Tick)
	assert.EqualValues(t, 2, up.infos.Load())

	// The server goes down: the refresh fails, the last reply is served.
	up.fail.Store(true)
	a.svc.Refresh()
	require.Eventually(t, func() bool {
		return strings.Contains(a.logs.String(), "attach info refresh failed: answering from the last reply")
	}, daemontest.WaitFor, daemontest.Tick)
	resp, err = c.GetAttachInfo(ctx, &mgmtv1.GetAttachInfoReq{})
	require.NoError(t, err)
	assert.EqualValues(t, 2, resp.GetDataVersion())

	resp, err = c.GetAttachInfo(ctx, &mgmtv1.GetAttachInfoReq{Sys: "other"})
	require.NoError(t, err)
	assert.Equal(t, mgmtagent.StatusInvalid, resp.GetStatus())
}

func TestGetAttachInfoTTL(t *testing.T) {
	up := newUpstream()
	a := startAgent(t, mgmtagent.Options{Upstream: up, TTL: 20 * time.Millisecond})
	require.Eventually(t, func() bool { return up.infos.Load() >= 3 }, daemontest.WaitFor, daemontest.Tick, "the cache is refreshed every TTL")
	resp, err := a.client(t).GetAttachInfo(context.Background(), &mgmtv1.GetAttachInfoReq{})
	require.NoError(t, err)
	assert.Len(t, resp.GetRankUris(), 2)
}

func TestGetAttachInfoNoCache(t *testing.T) {
	up := newUpstream()
	a := startAgent(t, mgmtagent.Options{Upstream: up, TTL: 0})
	c := a.client(t)
	for range 3 {
		_, err := c.GetAttachInfo(context.Background(), &mgmtv1.GetAttachInfoReq{})
		require.NoError(t, err)
	}
	assert.EqualValues(t, 3, up.infos.Load(), "ttl 0: every call asks the server")

	up.fail.Store(true)
	resp, err := c.GetAttachInfo(context.Background(), &mgmtv1.GetAttachInfoReq{})
	require.NoError(t, err)
	assert.Equal(t, mgmtagent.StatusUnreachable, resp.GetStatus())
}

func TestGetAttachInfoUnreachable(t *testing.T) {
	up := newUpstream()
	up.fail.Store(true)
	a := startAgent(t, mgmtagent.Options{Upstream: up, TTL: time.Hour})
	resp, err := a.client(t).GetAttachInfo(context.Background(), &mgmtv1.GetAttachInfoReq{})
	require.NoError(t, err)
	assert.Equal(t, mgmtagent.StatusUnreachable, resp.GetStatus())

	// Without access points.
	a = startAgent(t, mgmtagent.Options{TTL: time.Hour})
	resp, err = a.client(t).GetAttachInfo(context.Background(), &mgmtv1.GetAttachInfoReq{})
	require.NoError(t, err)
	assert.Equal(t, mgmtagent.StatusUnreachable, resp.GetStatus())
	assert.Contains(t, a.logs.String(), "no access_points")
}

// clientProc is a client process (clientMain) of the agent.
type clientProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
	done  chan struct{}
}

// startClient starts a client process that connects the pool handle, and
// waits for it to say so.
func startClient(t *testing.T, socket, pool, handle string) *clientProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), clientEnv+"="+socket+" "+pool+" "+handle)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	p := &clientProc{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout), done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
	})
	p.expect(t, "connected")
	return p
}

func (p *clientProc) expect(t *testing.T, want string) {
	t.Helper()
	line, err := p.out.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, want, strings.TrimSpace(line))
}

func (p *clientProc) send(t *testing.T, cmd string) {
	t.Helper()
	_, err := fmt.Fprintln(p.stdin, cmd)
	require.NoError(t, err)
	p.expect(t, cmd+" done")
}

func (p *clientProc) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Kill())
	<-p.done
}

// TestKilledClientIsEvicted: a process that connected a pool and is killed
// has its handle evicted, with the pool, this machine, and the pid the
// kernel gave for the socket.
func TestKilledClientIsEvicted(t *testing.T) {
	up := newUpstream()
	a := startAgent(t, mgmtagent.Options{Upstream: up, TTL: time.Hour, Machine: "client1"})
	p := startClient(t, a.socket, pool, h1)
	procs := a.svc.Processes()
	require.Len(t, procs, 1)
	assert.EqualValues(t, p.cmd.Process.Pid, procs[0].PID, "the pid is the caller's, from SO_PEERCRED")
	assert.EqualValues(t, os.Getuid(), procs[0].UID)
	assert.Equal(t, []mgmtagent.Handle{{Pool: pool, Handle: h1}}, procs[0].Handles)

	p.kill(t)
	select {
	case req := <-up.evicted:
		assert.Equal(t, pool, req.GetId())
		assert.Equal(t, []string{h1}, req.GetHandles())
		assert.Equal(t, "client1", req.GetMachine())
		assert.Equal(t, "daos_server", req.GetSys())
	case <-time.After(waitFor):
		t.Fatal("the killed client's handle was not evicted")
	}
	require.Eventually(t, func() bool {
		return strings.Contains(a.logs.String(), `msg="pool handles of an exited process evicted" pid=`+fmt.Sprint(p.cmd.Process.Pid)+` pool=`+pool+` handles=`+h1)
	}, daemontest.WaitFor, daemontest.Tick)
	assert.Empty(t, a.svc.Processes())
}

// TestCleanClientsAreNotEvicted: a process that disconnects, or notifies
// its exit, is not evicted when it dies.
func TestCleanClientsAreNotEvicted(t *testing.T) {
	up := newUpstream()
	a := startAgent(t, mgmtagent.Options{Upstream: up, TTL: time.Hour})

	disconnected := startClient(t, a.socket, pool, h1)
	disconnected.send(t, "disconnect")
	assert.Empty(t, a.svc.Processes(), "no handle left: no longer watched")

	exited := startClient(t, a.socket, pool, h2)
	exited.send(t, "exit")
	<-exited.done
	assert.Empty(t, a.svc.Processes())

	// A killed client next to them is evicted, alone.
	killed := startClient(t, a.socket, pool2, h2)
	disconnected.kill(t)
	killed.kill(t)
	select {
	case req := <-up.evicted:
		assert.Equal(t, pool2, req.GetId())
	case <-time.After(waitFor):
		t.Fatal("the killed client's handle was not evicted")
	}
	require.NoError(t, a.svc.Stop(context.Background()))
	assert.Equal(t, 1, up.evictionCount(), "only the killed client was evicted")
}

// TestHandlesByPool: a process with handles on two pools gets one eviction
// per pool.
func TestHandlesByPool(t *testing.T) {
	up := newUpstream()
	a := startAgent(t, mgmtagent.Options{Upstream: up, TTL: time.Hour})
	p := startClient(t, a.socket, pool, h1)
	c := mgmtv1drpc.NewMgmtServiceClient(daemontest.Connect(t, a.socket)) // the test process's own handles
	for _, req := range []*mgmtv1.PoolMonitorReq{{PoolUuid: pool2, PoolHandleUuid: h2}, {PoolUuid: pool, PoolHandleUuid: h2}} {
		resp, err := c.NotifyPoolConnect(context.Background(), req)
		require.NoError(t, err)
		assert.Zero(t, resp.GetStatus())
	}
	procs := a.svc.Processes()
	require.Len(t, procs, 2)
	p.kill(t)
	select {
	case req := <-up.evicted:
		assert.Equal(t, pool, req.GetId())
		assert.Equal(t, []string{h1}, req.GetHandles(), "only the killed process's handle")
	case <-time.After(waitFor):
		t.Fatal("not evicted")
	}
	require.Len(t, a.svc.Processes(), 1, "the test process stays watched")
	resp, err := c.NotifyExit(context.Background(), nil)
	require.NoError(t, err)
	assert.Zero(t, resp.GetStatus())
	assert.Empty(t, a.svc.Processes())
}

func TestMonitorRefusals(t *testing.T) {
	a := startAgent(t, mgmtagent.Options{Upstream: newUpstream(), TTL: time.Hour})
	c := a.client(t)
	ctx := context.Background()
	tests := []struct {
		name string
		req  *mgmtv1.PoolMonitorReq
	}{
		{"pool not a UUID", &mgmtv1.PoolMonitorReq{PoolUuid: "tank", PoolHandleUuid: h1}},
		{"handle not a UUID", &mgmtv1.PoolMonitorReq{PoolUuid: pool, PoolHandleUuid: ""}},
		{"another system", &mgmtv1.PoolMonitorReq{Sys: "other", PoolUuid: pool, PoolHandleUuid: h1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := c.NotifyPoolConnect(ctx, tc.req)
			require.NoError(t, err)
			assert.Equal(t, mgmtagent.StatusInvalid, resp.GetStatus())
			resp, err = c.NotifyPoolDisconnect(ctx, tc.req)
			require.NoError(t, err)
			assert.Equal(t, mgmtagent.StatusInvalid, resp.GetStatus())
		})
	}
	assert.Empty(t, a.svc.Processes())

	// A body that does not decode, and the engines' methods.
	conn := daemontest.Connect(t, a.socket)
	resp, err := conn.SendMsg(ctx, &drpc.Call{Module: 2, Method: 235, Body: []byte{0xff, 0xff}})
	require.NoError(t, err)
	assert.Equal(t, drpc.StatusFailedUnmarshalPayload, resp.GetStatus())
	for _, id := range []int32{202, 218, 225, 230} {
		resp, err := conn.SendMsg(ctx, &drpc.Call{Module: 2, Method: id})
		require.NoError(t, err)
		assert.Equal(t, drpc.StatusUnknownMethod, resp.GetStatus(), "method %d is the engines'", id)
	}
	// A status-0 DaosResp is an empty body, as DAOS's agent answers.
	resp, err = conn.SendMsg(ctx, &drpc.Call{Module: 2, Method: 233})
	require.NoError(t, err)
	assert.Equal(t, drpc.StatusSuccess, resp.GetStatus())
	assert.Empty(t, resp.GetBody())
}

// TestHandlesPerProcessBounded: a process may not register more than
// MaxHandlesPerProcess handles.
func TestHandlesPerProcessBounded(t *testing.T) {
	a := startAgent(t, mgmtagent.Options{Upstream: newUpstream(), TTL: time.Hour})
	c := a.client(t)
	ctx := context.Background()
	for i := range mgmtagent.MaxHandlesPerProcess {
		resp, err := c.NotifyPoolConnect(ctx, &mgmtv1.PoolMonitorReq{PoolUuid: pool, PoolHandleUuid: fmt.Sprintf("%08x-0000-4000-8000-000000000000", i)})
		require.NoError(t, err)
		require.Zero(t, resp.GetStatus())
	}
	resp, err := c.NotifyPoolConnect(ctx, &mgmtv1.PoolMonitorReq{PoolUuid: pool, PoolHandleUuid: h1})
	require.NoError(t, err)
	assert.Equal(t, mgmtagent.StatusBusy, resp.GetStatus())
	assert.Contains(t, a.logs.String(), "pool connect not recorded")
	// The same handle again is no new one.
	resp, err = c.NotifyPoolConnect(ctx, &mgmtv1.PoolMonitorReq{PoolUuid: pool, PoolHandleUuid: "00000000-0000-4000-8000-000000000000"})
	require.NoError(t, err)
	assert.Zero(t, resp.GetStatus())
}
