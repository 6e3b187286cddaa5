package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmtv1drpc "github.com/cc532012/drpc/api/mgmt/v1/mgmtv1drpc"
	srvv1drpc "github.com/cc532012/drpc/api/srv/v1/srvv1drpc"
	"github.com/cc532012/drpc/daemon/daemontest"
	"github.com/cc532012/drpc/drpc"
	mgmtv1 "github.com/cc532012/drpc/proto/drpc/mgmt/v1"
	srvv1 "github.com/cc532012/drpc/proto/drpc/srv/v1"
)

// mainEnv makes the test binary run main, for the process test.
const mainEnv = "DRPC_ENGINE_TEST_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// fakeServer serves the srv module on dir/daos_server.sock.
type fakeServer struct {
	srvv1drpc.UnimplementedSrvServiceServer
	mu      sync.Mutex
	ready   []*srvv1.NotifyReadyReq
	events  []*srvv1.ClusterEventReq
	refuse  *drpc.Failure // if set, notify ready answers it
	evtStat int32
}

func (f *fakeServer) NotifyReady(_ context.Context, _ *drpc.Session, req *srvv1.NotifyReadyReq) (*srvv1.NotifyReadyResp, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refuse != nil {
		return nil, f.refuse
	}
	f.ready = append(f.ready, req)
	return &srvv1.NotifyReadyResp{}, nil
}

func (f *fakeServer) ClusterEvent(_ context.Context, _ *drpc.Session, req *srvv1.ClusterEventReq) (*srvv1.ClusterEventResp, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, req)
	return &srvv1.ClusterEventResp{Sequence: req.GetSequence(), Status: f.evtStat}, nil
}

func (f *fakeServer) notified() []*srvv1.NotifyReadyReq {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*srvv1.NotifyReadyReq(nil), f.ready...)
}

func startFakeServer(t *testing.T, dir string, f *fakeServer) {
	t.Helper()
	daemontest.Serve(t, filepath.Join(dir, serverSocket), []drpc.Module{srvv1drpc.NewSrvServiceModule(f)})
}

// engine is drpc-engine run in-process.
type engine struct {
	cancel context.CancelFunc
	code   chan int
	stderr *daemontest.SyncBuffer
}

func startEngine(t *testing.T, args ...string) *engine {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e := &engine{cancel: cancel, code: make(chan int, 1), stderr: &daemontest.SyncBuffer{}}
	go func() { e.code <- run(ctx, args, &daemontest.SyncBuffer{}, e.stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-e.code:
		case <-time.After(daemontest.WaitFor):
		}
	})
	return e
}

func (e *engine) stop(t *testing.T) int {
	t.Helper()
	e.cancel()
	select {
	case code := <-e.code:
		e.code <- code // for the cleanup
		return code
	case <-time.After(daemontest.WaitFor):
		t.Fatal("the engine did not stop")
		return -1
	}
}

// TestEngine: the engine notifies the server, serves 202/225/218 logging
// each, remembers its rank, and stops cleanly.
func TestEngine(t *testing.T) {
	dir := daemontest.SocketDir(t)
	srv := &fakeServer{}
	startFakeServer(t, dir, srv)
	e := startEngine(t, "--socket-dir", dir, "--index", "4")
	require.Eventually(t, func() bool { return len(srv.notified()) == 1 }, daemontest.WaitFor, daemontest.Tick)
	req := srv.notified()[0]
	path := filepath.Join(dir, "daos_engine4.sock")
	assert.Equal(t, path, req.GetDrpcListenerSock())
	assert.EqualValues(t, 4, req.GetInstanceIdx())
	assert.NotZero(t, req.GetIncarnation())
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	ctx := context.Background()
	conn := drpc.NewClientConnection(path)
	require.NoError(t, conn.Connect(ctx))
	defer conn.Close()
	client := mgmtv1drpc.NewMgmtServiceClient(conn)
	for _, call := range []func() (*mgmtv1.DaosResp, error){
		func() (*mgmtv1.DaosResp, error) {
			return client.SetRank(ctx, &mgmtv1.SetRankReq{Rank: 9, MapVersion: 2})
		},
		func() (*mgmtv1.DaosResp, error) { return client.PingRank(ctx, &mgmtv1.PingRankReq{Rank: 9}) },
		func() (*mgmtv1.DaosResp, error) { return client.PingRank(ctx, &mgmtv1.PingRankReq{Rank: 8}) },
		func() (*mgmtv1.DaosResp, error) { return client.PrepShutdown(ctx, &mgmtv1.PrepShutdownReq{Rank: 9}) },
	} {
		resp, err := call()
		require.NoError(t, err)
		assert.Zero(t, resp.GetStatus())
	}
	resp, err := conn.SendMsg(ctx, &drpc.Call{Module: 2, Method: 201})
	require.NoError(t, err)
	assert.Equal(t, drpc.StatusUnknownMethod, resp.GetStatus(), "kill rank is not served")

	require.Equal(t, 0, e.stop(t))
	logs := e.stderr.String()
	for _, want := range []string{
		`msg="set rank" index=4 rank=9 map_version=2`,
		`msg="ping rank" index=4 rank=9`,
		`msg="ping for another rank" index=4 rank=8 mine=9`,
		`msg="prep shutdown" index=4 rank=9`,
		`msg="engine stopping" index=4 prepared_for_shutdown=true`,
	} {
		assert.Contains(t, logs, want)
	}
	_, err = os.Stat(path)
	assert.ErrorIs(t, err, os.ErrNotExist, "the engine removes its socket")
}

// TestPoolEvict: 230 records each handle once, logs it with its pool, and
// refuses what is not a UUID; the agent's methods answer UNKNOWN_METHOD.
func TestPoolEvict(t *testing.T) {
	dir := daemontest.SocketDir(t)
	srv := &fakeServer{}
	startFakeServer(t, dir, srv)
	e := startEngine(t, "--socket-dir", dir, "--index", "1")
	require.Eventually(t, func() bool { return len(srv.notified()) == 1 }, daemontest.WaitFor, daemontest.Tick)

	ctx := context.Background()
	conn := drpc.NewClientConnection(filepath.Join(dir, "daos_engine1.sock"))
	require.NoError(t, conn.Connect(ctx))
	defer conn.Close()
	client := mgmtv1drpc.NewMgmtServiceClient(conn)
	const (
		pool = "8d1c3b2a-0f4e-4b6a-9c1d-2e3f4a5b6c7d"
		h1   = "11111111-2222-4333-8444-555555555555"
		h2   = "AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE"
	)
	tests := []struct {
		name      string
		req       *mgmtv1.PoolEvictReq
		status    int32
		wantCount int32
	}{
		{"two handles", &mgmtv1.PoolEvictReq{Id: pool, Handles: []string{h1, h2}, Machine: "client1"}, 0, 2},
		{"again: already evicted", &mgmtv1.PoolEvictReq{Id: pool, Handles: []string{h1}, Machine: "client1"}, 0, 0},
		{"no handles", &mgmtv1.PoolEvictReq{Id: pool}, 0, 0},
		{"pool is not a UUID", &mgmtv1.PoolEvictReq{Id: "tank", Handles: []string{h1}}, statusInvalid, 0},
		{"handle is not a UUID", &mgmtv1.PoolEvictReq{Id: pool, Handles: []string{"x"}}, statusInvalid, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := client.PoolEvict(ctx, tc.req)
			require.NoError(t, err)
			assert.Equal(t, tc.status, resp.GetStatus())
			assert.Equal(t, tc.wantCount, resp.GetCount())
		})
	}
	for _, id := range []int32{206, 233, 235, 236} {
		resp, err := conn.SendMsg(ctx, &drpc.Call{Module: 2, Method: id})
		require.NoError(t, err)
		assert.Equal(t, drpc.StatusUnknownMethod, resp.GetStatus(), "method %d is the agent's", id)
	}
	require.Equal(t, 0, e.stop(t))
	logs := e.stderr.String()
	for _, want := range []string{
		`msg="pool handle evicted" index=1 pool=` + pool + ` handle=` + h1 + ` machine=client1`,
		`msg="pool handle evicted" index=1 pool=` + pool + ` handle=` + h2 + ` machine=client1`,
		`msg="pool handle already evicted" index=1 pool=` + pool + ` handle=` + h1,
		`msg="pool evict refused: the pool is not a UUID" index=1 pool=tank`,
	} {
		assert.Contains(t, logs, want)
	}
	assert.Equal(t, 2, strings.Count(logs, `msg="pool handle evicted"`))
}

// TestEngineWaitsForServer: the server appears once the engine waits for
// it.
func TestEngineWaitsForServer(t *testing.T) {
	dir := daemontest.SocketDir(t)
	e := startEngine(t, "--socket-dir", dir, "--index", "0")
	require.Eventually(t, func() bool { return strings.Contains(e.stderr.String(), "waiting for the server") }, daemontest.WaitFor, daemontest.Tick)
	srv := &fakeServer{}
	startFakeServer(t, dir, srv)
	require.Eventually(t, func() bool { return len(srv.notified()) == 1 }, daemontest.WaitFor, daemontest.Tick)
	require.Equal(t, 0, e.stop(t))
}

// TestEngineRefused: a server that refuses notify ready stops the engine
// with an error that gives the server's reason, and its socket is removed.
func TestEngineRefused(t *testing.T) {
	tests := []struct {
		name   string
		refuse *drpc.Failure
		want   string
	}{
		{"with a reason", drpc.NewFailure(drpc.StatusFailure, "engine index is not configured: index 1: add it under engines"),
			"refused notify ready (STATUS_FAILURE): engine index is not configured: index 1: add it under engines"},
		{"without a reason (a DAOS server)", drpc.NewFailure(drpc.StatusFailure, ""),
			"refused notify ready (STATUS_FAILURE): no reason given: see the server's log"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := daemontest.SocketDir(t)
			startFakeServer(t, dir, &fakeServer{refuse: tc.refuse})
			var stderr daemontest.SyncBuffer
			code := run(context.Background(), []string{"--socket-dir", dir, "--index", "1"}, &daemontest.SyncBuffer{}, &stderr)
			assert.Equal(t, 1, code)
			assert.Equal(t, "drpc-engine: the server on "+filepath.Join(dir, serverSocket)+" "+tc.want+"\n", stderr.String()[strings.LastIndex(stderr.String(), "drpc-engine: "):])
			_, err := os.Stat(filepath.Join(dir, "daos_engine1.sock"))
			assert.ErrorIs(t, err, os.ErrNotExist)
		})
	}
}

// TestRelativeSocketDir: a relative --socket-dir is made absolute, so the
// server gets an absolute socket path (which it requires).
func TestRelativeSocketDir(t *testing.T) {
	dir := daemontest.SocketDir(t)
	srv := &fakeServer{}
	startFakeServer(t, dir, srv)
	t.Chdir(filepath.Dir(dir))
	e := startEngine(t, "--socket-dir", filepath.Base(dir), "--index", "3")
	require.Eventually(t, func() bool { return len(srv.notified()) == 1 }, daemontest.WaitFor, daemontest.Tick)
	assert.Equal(t, filepath.Join(dir, "daos_engine3.sock"), srv.notified()[0].GetDrpcListenerSock())
	require.Equal(t, 0, e.stop(t))
}

func TestVersion(t *testing.T) {
	var out, errOut daemontest.SyncBuffer
	require.Equal(t, 0, run(context.Background(), []string{"version"}, &out, &errOut), errOut.String())
	assert.True(t, strings.HasPrefix(out.String(), "drpc-engine "), out.String())
	assert.Contains(t, out.String(), "github.com/cc532012/drpc/tools")
	assert.Equal(t, 2, run(context.Background(), []string{"version", "x"}, &out, &errOut))
}

func TestEvent(t *testing.T) {
	dir := daemontest.SocketDir(t)
	srv := &fakeServer{}
	startFakeServer(t, dir, srv)
	var out, errOut daemontest.SyncBuffer
	code := run(context.Background(), []string{"event", "--socket-dir", dir, "--index", "2", "--msg", "fan failed", "--sequence", "7", "--severity", "3"}, &out, &errOut)
	require.Equal(t, 0, code, errOut.String())
	assert.Equal(t, "sequence 7 status 0\n", out.String())
	srv.mu.Lock()
	require.Len(t, srv.events, 1)
	ev := srv.events[0]
	srv.mu.Unlock()
	assert.EqualValues(t, 7, ev.GetSequence())
	assert.Equal(t, "fan failed", ev.GetEvent().GetMsg())
	assert.EqualValues(t, 2, ev.GetEvent().GetRank(), "the rank defaults to the index")
	assert.EqualValues(t, 3, ev.GetEvent().GetSeverity())
	assert.Equal(t, "engine instance 2", ev.GetEvent().GetStrInfo())

	srv.mu.Lock()
	srv.evtStat = -1003
	srv.mu.Unlock()
	var out2, errOut2 daemontest.SyncBuffer
	code = run(context.Background(), []string{"event", "--socket-dir", dir, "--msg", "x"}, &out2, &errOut2)
	assert.Equal(t, 1, code)
	assert.Equal(t, "sequence 1 status -1003\n", out2.String())
	assert.Contains(t, errOut2.String(), "the server refused the event: status -1003")
}

func TestUsage(t *testing.T) {
	dir := daemontest.SocketDir(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "daos_engine9.sock"), nil, 0o600))
	running := daemontest.SocketDir(t)
	daemontest.LiveSocket(t, filepath.Join(running, "daos_engine0.sock"))
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no socket dir", []string{"--index", "0"}, 2, "--socket-dir is required"},
		{"unknown flag", []string{"--nope"}, 2, "unknown flag: --nope"},
		{"bad index", []string{"--socket-dir", dir, "--index", "-1"}, 2, "invalid argument"},
		{"an argument", []string{"--socket-dir", dir, "extra"}, 2, `unexpected argument "extra"`},
		{"bad log level", []string{"--socket-dir", dir, "--log-level", "loud"}, 2, "--log-level"},
		{"event without message", []string{"event", "--socket-dir", dir}, 2, "--msg is required"},
		{"event without server", []string{"event", "--socket-dir", dir, "--msg", "x"}, 1,
			"cluster event: no server socket at " + filepath.Join(dir, serverSocket) + ": start drpc-server, or give its socket directory with --socket-dir"},
		{"socket dir missing", []string{"--socket-dir", filepath.Join(dir, "none")}, 1,
			"this engine's socket directory " + filepath.Join(dir, "none") + " does not exist or is not a directory: give the server's socket directory"},
		{"engine already running", []string{"--socket-dir", running, "--index", "0"}, 1,
			"this engine's socket " + filepath.Join(running, "daos_engine0.sock") + " is in use by process " + strconv.Itoa(os.Getpid()) + " "},
		{"a file at the socket path", []string{"--socket-dir", dir, "--index", "9"}, 1, "holds a file that is not a socket: remove it"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut daemontest.SyncBuffer
			code := run(context.Background(), tc.args, &out, &errOut)
			assert.Equal(t, tc.code, code, errOut.String())
			assert.True(t, strings.HasPrefix(errOut.String(), "drpc-engine: "), errOut.String())
			assert.Contains(t, errOut.String(), tc.want)
		})
	}
}

// TestProcessSIGTERM: as a process, the engine exits 0 on SIGTERM alone
// (no server, no 218) and removes its socket.
func TestProcessSIGTERM(t *testing.T) {
	dir := daemontest.SocketDir(t)
	cmd := exec.Command(os.Args[0], "--socket-dir", dir, "--index", "5")
	cmd.Env = append(os.Environ(), mainEnv+"=1")
	stderr := &daemontest.SyncBuffer{}
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "waiting for the server") }, daemontest.WaitFor, daemontest.Tick)
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-done:
		require.NoError(t, err, stderr.String())
	case <-time.After(daemontest.WaitFor):
		t.Fatal("no exit after SIGTERM")
	}
	_, err := os.Stat(filepath.Join(dir, "daos_engine5.sock"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}
