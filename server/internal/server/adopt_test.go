package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	srvv1drpc "github.com/cc532012/drpc/api/srv/v1/srvv1drpc"
	"github.com/cc532012/drpc/daemon/daemontest"
	srvv1 "github.com/cc532012/drpc/proto/drpc/srv/v1"
	"github.com/cc532012/drpc/server/internal/engine"
)

func TestEngineIndex(t *testing.T) {
	tests := []struct {
		name string
		want uint32
		ok   bool
	}{
		{"daos_engine0.sock", 0, true},
		{"daos_engine17.sock", 17, true},
		{"daos_engine4294967295.sock", 4294967295, true},
		{"daos_engine4294967296.sock", 0, false},
		{"daos_engine.sock", 0, false},
		{"daos_engine01.sock", 0, false},
		{"daos_engine-1.sock", 0, false},
		{"daos_enginex.sock", 0, false},
		{"daos_engine1.sock.bak", 0, false},
		{"daos_server.sock", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := engineIndex(tc.name)
			assert.Equal(t, tc.ok, ok)
			if ok {
				assert.Equal(t, tc.want, got)
			}
		})
	}
}

// TestStartAdoptsLiveEngines: the engines whose sockets answer when the
// server starts are adopted, with their configured ranks, and pinged; a
// socket whose index is not configured, or whose name gives no index, is
// left alone. An adopted engine's URI and incarnation show as unknown until
// it notifies ready; then they are filled in.
func TestStartAdoptsLiveEngines(t *testing.T) {
	dir := daemontest.SocketDir(t)
	rank := uint32(10)
	e0, e1, e2 := startFakeEngine(t, dir, 0), startFakeEngine(t, dir, 1), startFakeEngine(t, dir, 2)
	daemontest.LiveSocket(t, filepath.Join(dir, "daos_enginex.sock"))
	var logs daemontest.SyncBuffer
	s := newServerWithLog(t, dir, &logs, func(c *Config) {
		c.Engines = []EngineConfig{{Index: 0, Rank: &rank}, {Index: 1}}
	})
	require.NoError(t, s.Start(context.Background()))

	require.Eventually(t, func() bool { return e0.ping.Load() >= 1 && e1.ping.Load() >= 1 }, daemontest.WaitFor, daemontest.Tick)
	assert.EqualValues(t, 10, e0.rank.Load(), "the configured rank")
	assert.EqualValues(t, 1, e1.rank.Load())
	assert.Zero(t, e2.setRank.Load()+e2.ping.Load(), "index 2 is not configured")
	engines := s.Engines()
	require.Len(t, engines, 2)
	for i, e := range engines {
		assert.True(t, e.Adopted)
		assert.EqualValues(t, i, e.Index)
		assert.EqualValues(t, os.Getpid(), e.PID, "the process that listens on the socket")
	}
	for _, want := range []string{
		`msg="engine adopted`, `index=0 rank=10`,
		`msg="live engine socket not adopted: the configuration does not list its index`,
		`msg="live engine socket not adopted: its name gives no engine index`,
		`msg="engines found running at start-up" live_sockets=4 adopted=2`,
	} {
		assert.Contains(t, logs.String(), want)
	}

	ctx := context.Background()
	status, err := FetchStatus(ctx, s.SocketPath())
	require.NoError(t, err)
	var text, js bytes.Buffer
	require.NoError(t, WriteStatusText(&text, status, time.Now()))
	require.NoError(t, WriteStatusJSON(&js, status))
	assert.Contains(t, text.String(), "engine 0: adopted (found running when the server started): uri and incarnation unknown until it notifies ready")
	var got StatusJSON
	require.NoError(t, json.Unmarshal(js.Bytes(), &got))
	require.Len(t, got.Engines, 2)
	assert.Nil(t, got.Engines[0].Notified)
	assert.Nil(t, got.Engines[0].URI, "unknown")
	assert.Nil(t, got.Engines[0].Incarnation, "unknown")
	require.NotNil(t, got.Engines[0].PID)
	assert.EqualValues(t, os.Getpid(), *got.Engines[0].PID)
	assert.Contains(t, js.String(), `"uri": null`)

	// Engine 0 notifies (the same process): its URI and incarnation are
	// known, and its rank is not set again.
	conn := daemontest.Connect(t, s.SocketPath())
	_, err = srvv1drpc.NewSrvServiceClient(conn).NotifyReady(ctx, &srvv1.NotifyReadyReq{
		InstanceIdx: 0, DrpcListenerSock: e0.path, Uri: "tcp://n:1", Incarnation: 77})
	require.NoError(t, err)
	status, err = FetchStatus(ctx, s.SocketPath())
	require.NoError(t, err)
	e := status.GetEngines()[0]
	assert.Equal(t, "tcp://n:1", e.GetUri())
	assert.EqualValues(t, 77, e.GetIncarnation())
	assert.NotNil(t, e.GetNotified())
	assert.EqualValues(t, 1, e0.setRank.Load())
	text.Reset()
	require.NoError(t, WriteStatusText(&text, status, time.Now()))
	assert.NotContains(t, text.String(), "engine 0: adopted")

	require.NoError(t, s.Shutdown(ctx))
	assert.EqualValues(t, 1, e0.prep.Load(), "an adopted engine is prepared for shutdown too")
}

// newServerWithLog is newServer with its log, as text, in w.
func newServerWithLog(t *testing.T, dir string, w io.Writer, edit func(*Config)) *Server {
	t.Helper()
	cfg := testConfig(dir)
	if edit != nil {
		edit(&cfg)
	}
	s, err := New(cfg, Options{
		Logger: slog.New(slog.NewTextHandler(w, nil)),
		Policy: engine.Policy{InitialBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s
}
