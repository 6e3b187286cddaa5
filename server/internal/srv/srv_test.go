package srv

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	srvv1drpc "github.com/cc532012/drpc/api/srv/v1/srvv1drpc"
	"github.com/cc532012/drpc/daemon/daemontest"
	"github.com/cc532012/drpc/drpc"
	srvv1 "github.com/cc532012/drpc/proto/drpc/srv/v1"
	"github.com/cc532012/drpc/server/internal/engine"
)

// fakeRegistry records the engines that notified.
type fakeRegistry struct {
	mu    sync.Mutex
	infos []engine.Info
	err   error
}

func (r *fakeRegistry) Ready(info engine.Info) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.infos = append(r.infos, info)
	return nil
}

func (r *fakeRegistry) list() []engine.Info {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]engine.Info(nil), r.infos...)
}

// serve registers svc on a server in dir and returns a client of it.
func serve(t *testing.T, dir string, svc *Service) srvv1drpc.SrvServiceClient {
	t.Helper()
	path := filepath.Join(dir, "daos_server.sock")
	daemontest.Serve(t, path, []drpc.Module{svc.Module()})
	return srvv1drpc.NewSrvServiceClient(daemontest.Connect(t, path))
}

// listen makes a listening socket at path.
func listen(t *testing.T, path string) {
	t.Helper()
	ln, err := net.Listen("unixpacket", path)
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
}

func TestNotifyReady(t *testing.T) {
	dir := daemontest.SocketDir(t)
	other := daemontest.SocketDir(t)
	for _, p := range []string{filepath.Join(dir, "daos_engine0.sock"), filepath.Join(dir, "daos_engine1.sock"), filepath.Join(other, "daos_engine0.sock")} {
		listen(t, p)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "file.sock"), nil, 0o600))
	require.NoError(t, os.Symlink(filepath.Join(dir, "daos_engine0.sock"), filepath.Join(dir, "link.sock")))
	dirLink := filepath.Join(other, "run")
	require.NoError(t, os.Symlink(dir, dirLink)) // as /var/run -> /run

	tests := []struct {
		name    string
		indexes []uint32
		req     *srvv1.NotifyReadyReq
		regErr  error
		want    error // nil: accepted
		message string
		todo    string // what the refusal tells the engine to do
	}{
		{"any index when none is configured", nil, &srvv1.NotifyReadyReq{InstanceIdx: 42, DrpcListenerSock: filepath.Join(dir, "daos_engine0.sock")}, nil, nil, "", ""},
		{"a configured index", []uint32{0, 1}, &srvv1.NotifyReadyReq{InstanceIdx: 1, DrpcListenerSock: filepath.Join(dir, "daos_engine1.sock")}, nil, nil, "", ""},
		{"a path to clean", nil, &srvv1.NotifyReadyReq{DrpcListenerSock: dir + "/./sub/../daos_engine0.sock"}, nil, nil, "", ""},
		{"through a link to the socket dir", nil, &srvv1.NotifyReadyReq{DrpcListenerSock: filepath.Join(dirLink, "daos_engine0.sock")}, nil, nil, "", ""},
		{"an index not configured", []uint32{0, 1}, &srvv1.NotifyReadyReq{InstanceIdx: 2, DrpcListenerSock: filepath.Join(dir, "daos_engine0.sock")}, nil, ErrUnknownIndex, "index 2", "add it under engines"},
		{"no socket", nil, &srvv1.NotifyReadyReq{}, nil, ErrBadSocket, "names no socket", "give the engine's socket in " + dir},
		{"relative socket", nil, &srvv1.NotifyReadyReq{DrpcListenerSock: "daos_engine0.sock"}, nil, ErrBadSocket, "not an absolute path", "as an absolute path in " + dir},
		{"socket in another directory", nil, &srvv1.NotifyReadyReq{DrpcListenerSock: filepath.Join(other, "daos_engine0.sock")}, nil, ErrBadSocket, "is not in " + dir, "start the engine with the server's socket directory"},
		{"escape with ..", nil, &srvv1.NotifyReadyReq{DrpcListenerSock: dir + "/../" + filepath.Base(other) + "/daos_engine0.sock"}, nil, ErrBadSocket, "is not in", "start the engine with the server's socket directory"},
		{"missing socket", nil, &srvv1.NotifyReadyReq{DrpcListenerSock: filepath.Join(dir, "daos_engine5.sock")}, nil, ErrBadSocket, "no such file", "must listen on its socket"},
		{"a regular file", nil, &srvv1.NotifyReadyReq{DrpcListenerSock: filepath.Join(dir, "file.sock")}, nil, ErrBadSocket, "is not a socket", "must listen on its socket"},
		{"a symbolic link", nil, &srvv1.NotifyReadyReq{DrpcListenerSock: filepath.Join(dir, "link.sock")}, nil, ErrBadSocket, "is not a socket", "must listen on its socket"},
		{"the server's own socket", nil, &srvv1.NotifyReadyReq{DrpcListenerSock: filepath.Join(dir, "daos_server.sock")}, nil, ErrBadSocket, "server's own socket", "give the engine's own socket"},
		{"the registry refuses", nil, &srvv1.NotifyReadyReq{DrpcListenerSock: filepath.Join(dir, "daos_engine0.sock")}, engine.ErrClosed, engine.ErrClosed, "shutting down", "notify ready again once the server is back"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := &fakeRegistry{err: tc.regErr}
			svc := New(Options{SocketDir: dir, ServerSocket: filepath.Join(dir, "daos_server.sock"), Indexes: tc.indexes, Registry: reg})
			err := svc.checkReady(tc.req)
			if tc.regErr == nil {
				if tc.want == nil {
					require.NoError(t, err)
				} else {
					require.ErrorIs(t, err, tc.want)
					assert.Contains(t, err.Error(), tc.message)
				}
			}
			// The same through the module: a refusal is STATUS_FAILURE.
			sess := serveDir(t, svc)
			_, err = sess.NotifyReady(context.Background(), tc.req)
			if tc.want == nil {
				require.NoError(t, err)
				infos := reg.list()
				require.Len(t, infos, 1)
				assert.Equal(t, tc.req.GetInstanceIdx(), infos[0].Index)
				assert.Equal(t, filepath.Clean(tc.req.GetDrpcListenerSock()), infos[0].Socket)
				assert.EqualValues(t, os.Getpid(), infos[0].PID, "from the peer credentials")
				return
			}
			// The reason, with what to do, reaches the engine.
			require.Equal(t, drpc.StatusFailure, drpc.StatusOf(err))
			var f *drpc.Failure
			require.ErrorAs(t, err, &f)
			assert.Contains(t, f.Message(), tc.message)
			assert.Contains(t, f.Message(), tc.todo)
			assert.Empty(t, reg.list())
		})
	}
}

// serveDir serves svc on a socket of its own directory.
func serveDir(t *testing.T, svc *Service) srvv1drpc.SrvServiceClient {
	return serve(t, daemontest.SocketDir(t), svc)
}

func TestClusterEvent(t *testing.T) {
	events := NewEvents(3)
	now := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	svc := New(Options{SocketDir: "/x", Registry: &fakeRegistry{}, Events: events, Now: func() time.Time { return now }})
	client := serveDir(t, svc)
	ctx := context.Background()

	for i := range 5 {
		ev := &srvv1.RASEvent{Id: uint32(i), Msg: fmt.Sprintf("event %d", i), Rank: 2,
			ExtendedInfo: &srvv1.RASEvent_EngineStateInfo{EngineStateInfo: &srvv1.RASEvent_EngineStateEventInfo{Instance: 1}}}
		resp, err := client.ClusterEvent(ctx, &srvv1.ClusterEventReq{Sequence: uint64(100 + i), Event: ev})
		require.NoError(t, err)
		assert.EqualValues(t, 100+i, resp.GetSequence())
		assert.Zero(t, resp.GetStatus())
		ev.Msg = "changed after sending" // the log kept its own copy
	}
	resp, err := client.ClusterEvent(ctx, &srvv1.ClusterEventReq{Sequence: 9})
	require.NoError(t, err)
	assert.EqualValues(t, 9, resp.GetSequence())
	assert.EqualValues(t, StatusInvalid, resp.GetStatus(), "no event")

	got, total := events.Last(0)
	assert.EqualValues(t, 5, total)
	require.Len(t, got, 3, "the last 3 are kept")
	for i, e := range got {
		assert.EqualValues(t, 102+i, e.Sequence)
		assert.Equal(t, fmt.Sprintf("event %d", 2+i), e.RAS.GetMsg())
		assert.Equal(t, now, e.Received)
		assert.EqualValues(t, os.Getpid(), e.PID)
	}
	last, _ := events.Last(1)
	require.Len(t, last, 1)
	assert.EqualValues(t, 104, last[0].Sequence)
}

func TestOtherMethodsUnknown(t *testing.T) {
	dir := daemontest.SocketDir(t)
	svc := New(Options{SocketDir: dir, Registry: &fakeRegistry{}})
	path := filepath.Join(dir, "s.sock")
	daemontest.Serve(t, path, []drpc.Module{svc.Module()})
	conn := daemontest.Connect(t, path)
	for _, method := range []int32{303, 305, 306, 309, 310, 311} {
		resp, err := conn.SendMsg(context.Background(), &drpc.Call{Module: 3, Method: method})
		require.NoError(t, err)
		assert.Equal(t, drpc.StatusUnknownMethod, resp.GetStatus(), "method %d", method)
	}
}

func TestEventsRing(t *testing.T) {
	tests := []struct {
		cap, add, last int
		want           []uint64
	}{
		{3, 0, 0, []uint64{}},
		{3, 2, 0, []uint64{0, 1}},
		{3, 3, 0, []uint64{0, 1, 2}},
		{3, 7, 0, []uint64{4, 5, 6}},
		{3, 7, 2, []uint64{5, 6}},
		{3, 7, 10, []uint64{4, 5, 6}},
		{0, 150, 0, nil}, // the default: 100 kept
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("cap%d_add%d_last%d", tc.cap, tc.add, tc.last), func(t *testing.T) {
			l := NewEvents(tc.cap)
			for i := range tc.add {
				l.Add(Event{Sequence: uint64(i)})
			}
			got, total := l.Last(tc.last)
			assert.EqualValues(t, tc.add, total)
			if tc.want == nil {
				assert.Equal(t, DefaultMaxEvents, l.Cap())
				require.Len(t, got, DefaultMaxEvents)
				assert.EqualValues(t, 50, got[0].Sequence)
				return
			}
			seqs := []uint64{}
			for _, e := range got {
				seqs = append(seqs, e.Sequence)
			}
			assert.Equal(t, tc.want, seqs)
		})
	}
}

func TestEventsConcurrent(t *testing.T) {
	l := NewEvents(10)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				l.Add(Event{Sequence: uint64(g*1000 + i), RAS: &srvv1.RASEvent{Msg: "x"}})
				if i%10 == 0 {
					l.Last(5)
				}
			}
		})
	}
	wg.Wait()
	got, total := l.Last(0)
	assert.EqualValues(t, 800, total)
	assert.Len(t, got, 10)
}
