package mgmtsvc_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/daemon/daemontest"
	mgmtv1 "github.com/cc532012/drpc/proto/drpc/mgmt/v1"
	"github.com/cc532012/drpc/server/internal/engine"
	"github.com/cc532012/drpc/server/internal/mgmtsvc"
)

func TestGetAttachInfo(t *testing.T) {
	e := &engines{}
	svc := newService(t, e, nil)
	ctx := context.Background()

	resp, err := svc.GetAttachInfo(ctx, &mgmtv1.GetAttachInfoReq{})
	require.NoError(t, err)
	assert.Empty(t, resp.GetRankUris(), "no engine yet")
	assert.Equal(t, "daos_server", resp.GetSys())
	assert.Equal(t, "ofi+tcp", resp.GetClientNetHint().GetProvider())
	assert.EqualValues(t, 1, resp.GetDataVersion())
	assertProto(t, &mgmtv1.BuildInfo{Major: 1, Minor: 2, Patch: 3, Tag: "v1.2.3"}, resp.GetBuildInfo())

	down := ready(2, 7, "/s2", "tcp://c")
	down.State = engine.Unavailable
	e.set(ready(0, 0, "/s0", "tcp://a"), ready(1, 5, "/s1", "tcp://b"), down)
	resp, err = svc.GetAttachInfo(ctx, &mgmtv1.GetAttachInfoReq{Sys: "daos_server", AllRanks: true})
	require.NoError(t, err)
	require.Len(t, resp.GetRankUris(), 2, "ready engines only")
	assertProto(t, &mgmtv1.GetAttachInfoResp_RankUri{Rank: 0, Uri: "tcp://a", NumCtxs: 2}, resp.GetRankUris()[0])
	assertProto(t, &mgmtv1.GetAttachInfoResp_RankUri{Rank: 5, Uri: "tcp://b", NumCtxs: 2}, resp.GetRankUris()[1])
	assert.Equal(t, []uint32{0, 5}, resp.GetMsRanks())
	assert.EqualValues(t, 2, resp.GetDataVersion(), "the ranks changed")

	resp, err = svc.GetAttachInfo(ctx, &mgmtv1.GetAttachInfoReq{})
	require.NoError(t, err)
	assert.EqualValues(t, 2, resp.GetDataVersion(), "nothing changed")

	_, err = svc.GetAttachInfo(ctx, &mgmtv1.GetAttachInfoReq{Sys: "other"})
	require.ErrorIs(t, err, mgmtsvc.ErrWrongSystem)
	assert.Contains(t, err.Error(), `"other"`)
}

func TestPoolEvict(t *testing.T) {
	dir := daemontest.SocketDir(t)
	f0, s0 := startEngine(t, dir, 0, 0)
	f1, s1 := startEngine(t, dir, 1, 0)
	_, sBad := startEngine(t, dir, 2, -1005)
	gone := ready(3, 3, dir+"/daos_engine3.sock", "tcp://x") // nothing listens
	e := &engines{}
	svc := newService(t, e, nil)
	ctx := context.Background()
	peer := mgmtsvc.Peer{Addr: "127.0.0.1:5555", Name: "agent"}

	tests := []struct {
		name    string
		engines []engine.Status
		req     *mgmtv1.PoolEvictReq
		status  int32
		count   int32
	}{
		{"two engines", []engine.Status{s0, s1}, &mgmtv1.PoolEvictReq{Id: pool, Handles: []string{h1, h2}, Machine: "c1", Sys: "daos_server"}, 0, 4},
		{"an engine refuses", []engine.Status{s0, sBad}, &mgmtv1.PoolEvictReq{Id: pool, Handles: []string{h1}}, -1005, 1},
		{"an engine is gone", []engine.Status{s0, gone}, &mgmtv1.PoolEvictReq{Id: pool, Handles: []string{h1}}, mgmtsvc.StatusUnreachable, 1},
		{"no engine", nil, &mgmtv1.PoolEvictReq{Id: pool, Handles: []string{h1}}, mgmtsvc.StatusUnreachable, 0},
		{"pool is not a UUID", []engine.Status{s0}, &mgmtv1.PoolEvictReq{Id: "tank", Handles: []string{h1}}, mgmtsvc.StatusInvalid, 0},
		{"handle is not a UUID", []engine.Status{s0}, &mgmtv1.PoolEvictReq{Id: pool, Handles: []string{"x"}}, mgmtsvc.StatusInvalid, 0},
		{"no handles", []engine.Status{s0}, &mgmtv1.PoolEvictReq{Id: pool}, mgmtsvc.StatusInvalid, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.set(tc.engines...)
			resp, err := svc.PoolEvict(ctx, peer, tc.req)
			require.NoError(t, err)
			assert.Equal(t, tc.status, resp.GetStatus())
			assert.Equal(t, tc.count, resp.GetCount())
		})
	}
	_, err := svc.PoolEvict(ctx, peer, &mgmtv1.PoolEvictReq{Sys: "other", Id: pool, Handles: []string{h1}})
	require.ErrorIs(t, err, mgmtsvc.ErrWrongSystem)

	got := f1.requests()
	require.Len(t, got, 1)
	assertProto(t, &mgmtv1.PoolEvictReq{Id: pool, Handles: []string{h1, h2}, Machine: "c1"}, got[0]) // forwarded without sys
	assert.Len(t, f0.requests(), 3)

	kept, total, handles := svc.Evictions().Last()
	assert.EqualValues(t, 4, total, "refused requests are not evictions")
	assert.EqualValues(t, 6, handles)
	require.Len(t, kept, 4)
	first := kept[0]
	assert.Equal(t, pool, first.Pool)
	assert.Equal(t, []string{h1, h2}, first.Handles)
	assert.Equal(t, "c1", first.Machine)
	assert.Equal(t, peer.Addr, first.Peer)
	assert.Equal(t, "agent", first.PeerName)
	assert.EqualValues(t, 4, first.Count)
	require.Len(t, first.Engines, 2)
	assert.Equal(t, mgmtsvc.EngineEviction{Index: 1, Rank: 1, Count: 2}, first.Engines[1])
	assert.NotEmpty(t, kept[2].Engines[1].Err, "the unreachable engine's error")
}

func TestEvictionsBounded(t *testing.T) {
	ev := mgmtsvc.NewEvictions(2)
	dir := daemontest.SocketDir(t)
	_, s0 := startEngine(t, dir, 0, 0)
	e := &engines{}
	e.set(s0)
	svc := mgmtsvc.New(mgmtsvc.Options{System: "s", Engines: e.get, Evictions: ev,
		Caller: engine.NewCaller(engine.CallerOptions{})})
	for range 3 {
		_, err := svc.PoolEvict(context.Background(), mgmtsvc.Peer{}, &mgmtv1.PoolEvictReq{Id: pool, Handles: []string{h1}})
		require.NoError(t, err)
	}
	kept, total, handles := ev.Last()
	assert.Len(t, kept, 2)
	assert.EqualValues(t, 3, total)
	assert.EqualValues(t, 3, handles)
}
