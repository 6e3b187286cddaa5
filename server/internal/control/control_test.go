package control

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	controlv1drpc "github.com/cc532012/drpc/api/control/v1/controlv1drpc"
	"github.com/cc532012/drpc/daemon/daemontest"
	"github.com/cc532012/drpc/drpc"
	controlv1 "github.com/cc532012/drpc/proto/drpc/control/v1"
	srvv1 "github.com/cc532012/drpc/proto/drpc/srv/v1"
	"github.com/cc532012/drpc/server/internal/engine"
	"github.com/cc532012/drpc/server/internal/srv"
)

func client(t *testing.T, svc *Service) controlv1drpc.ControlServiceClient {
	t.Helper()
	path := filepath.Join(daemontest.SocketDir(t), "daos_server.sock")
	daemontest.Serve(t, path, []drpc.Module{svc.Module()})
	return controlv1drpc.NewControlServiceClient(daemontest.Connect(t, path))
}

func TestGetStatus(t *testing.T) {
	now := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	events := srv.NewEvents(5)
	for i := range 7 {
		events.Add(srv.Event{Received: now, Sequence: uint64(i), PID: 9, RAS: &srvv1.RASEvent{Msg: "m"}})
	}
	engines := []engine.Status{
		{Info: engine.Info{Index: 0, Socket: "/s/daos_engine0.sock", PID: 10}, Rank: 4, State: engine.Ready, RankSet: true, LastPing: now, Notified: now, Since: now},
		{Info: engine.Info{Index: 1, Socket: "/s/daos_engine1.sock"}, Rank: 1, State: engine.Unavailable, Err: "refused", Notified: now, Since: now},
		{Info: engine.Info{Index: 2}, State: engine.Stopped},
	}
	svc := New(Options{
		Engines: func() []engine.Status { return engines },
		Events:  events,
		Server:  func() *controlv1.ServerStatus { return &controlv1.ServerStatus{Pid: 77, Socket: "/s/daos_server.sock"} },
		UID:     -1,
	})
	c := client(t, svc)

	resp, err := c.GetStatus(context.Background(), &controlv1.GetStatusReq{})
	require.NoError(t, err)
	assert.EqualValues(t, 77, resp.GetServer().GetPid())
	assert.EqualValues(t, 7, resp.GetServer().GetEventsReceived())
	assert.EqualValues(t, 5, resp.GetServer().GetEventsKept())
	assert.EqualValues(t, 5, resp.GetServer().GetMaxEvents())
	require.Len(t, resp.GetEngines(), 3)
	e0 := resp.GetEngines()[0]
	assert.EqualValues(t, 4, e0.GetRank())
	assert.Equal(t, controlv1.EngineState_ENGINE_STATE_READY, e0.GetState())
	assert.Equal(t, now, e0.GetLastPing().AsTime())
	assert.True(t, e0.GetRankSet())
	assert.Equal(t, "unavailable", StateName(resp.GetEngines()[1].GetState()))
	assert.Equal(t, "refused", resp.GetEngines()[1].GetError())
	assert.Nil(t, resp.GetEngines()[1].GetLastPing(), "never pinged")
	assert.Equal(t, "stopped", StateName(resp.GetEngines()[2].GetState()))
	require.Len(t, resp.GetEvents(), 5)
	assert.EqualValues(t, 2, resp.GetEvents()[0].GetSequence())

	resp, err = c.GetStatus(context.Background(), &controlv1.GetStatusReq{MaxEvents: 2})
	require.NoError(t, err)
	require.Len(t, resp.GetEvents(), 2)
	assert.EqualValues(t, 5, resp.GetEvents()[0].GetSequence())
	assert.EqualValues(t, 6, resp.GetEvents()[1].GetSequence())
}

// TestEventsKept: events_kept is how many events the server holds now, and
// max_events how many it keeps at most.
func TestEventsKept(t *testing.T) {
	events := srv.NewEvents(100)
	events.Add(srv.Event{Sequence: 1, RAS: &srvv1.RASEvent{Msg: "m"}})
	resp, err := client(t, New(Options{Events: events, UID: -1})).GetStatus(context.Background(), &controlv1.GetStatusReq{})
	require.NoError(t, err)
	assert.EqualValues(t, 1, resp.GetServer().GetEventsReceived())
	assert.EqualValues(t, 1, resp.GetServer().GetEventsKept())
	assert.EqualValues(t, 100, resp.GetServer().GetMaxEvents())
}

// TestOtherUserRefused: a caller whose uid is not the server's is refused.
func TestOtherUserRefused(t *testing.T) {
	svc := New(Options{UID: int64(os.Getuid()) + 1})
	_, err := client(t, svc).GetStatus(context.Background(), &controlv1.GetStatusReq{})
	require.Equal(t, drpc.StatusFailure, drpc.StatusOf(err))

	_, err = svc.GetStatus(context.Background(), nil, &controlv1.GetStatusReq{})
	require.ErrorIs(t, err, ErrNotAllowed, "no session, no caller to trust")
}

func TestStates(t *testing.T) {
	for _, s := range []engine.State{engine.Ready, engine.Unavailable, engine.Stopped} {
		assert.Equal(t, s.String(), StateName(State(s)))
	}
	assert.Equal(t, controlv1.EngineState_ENGINE_STATE_UNSPECIFIED, State(engine.State(0)))
	assert.Equal(t, "unknown", StateName(controlv1.EngineState_ENGINE_STATE_UNSPECIFIED))
}

// TestEventBytesBounded: the reply carries the newest events that fit in
// MaxEventBytes, whatever the log keeps.
func TestEventBytesBounded(t *testing.T) {
	events := srv.NewEvents(100)
	ev := &srvv1.RASEvent{Msg: strings.Repeat("x", 1000)}
	for i := range 50 {
		events.Add(srv.Event{Sequence: uint64(i), RAS: ev})
	}
	size := proto.Size(ev)
	svc := New(Options{Events: events, UID: -1, MaxEventBytes: 10*size + size/2})
	resp, err := client(t, svc).GetStatus(context.Background(), &controlv1.GetStatusReq{})
	require.NoError(t, err)
	require.Len(t, resp.GetEvents(), 10)
	assert.EqualValues(t, 40, resp.GetEvents()[0].GetSequence(), "the newest, oldest first")
	assert.EqualValues(t, 49, resp.GetEvents()[9].GetSequence())
	assert.EqualValues(t, 50, resp.GetServer().GetEventsReceived())

	assert.Equal(t, DefaultMaxEventBytes, New(Options{}).opts.MaxEventBytes)
}
