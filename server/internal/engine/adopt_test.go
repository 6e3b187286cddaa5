package engine

import (
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/daemon/daemontest"
)

// TestAdopt: an engine found running is ready at once, gets its configured
// rank again and is pinged, with its URI and incarnation unknown; its first
// notification from the same process fills them in without starting over;
// one from another process starts over; Shutdown prepares it.
func TestAdopt(t *testing.T) {
	dir := daemontest.SocketDir(t)
	rec := &records{}
	r := newTestRegistry(t, map[uint32]uint32{3: 30}, slog.New(rec))
	e3 := startEngine(t, enginePath(dir, 3), &fakeEngine{})

	adopted, err := r.Adopt(Info{Index: 3, Socket: enginePath(dir, 3), PID: 500})
	require.NoError(t, err)
	require.True(t, adopted)
	st := status(t, r, 3)
	assert.Equal(t, Ready, st.State)
	assert.True(t, st.Adopted)
	assert.True(t, st.Notified.IsZero(), "never notified this server")
	assert.EqualValues(t, 500, st.PID)
	assert.Empty(t, st.URI)
	assert.Zero(t, st.Incarnation)
	assert.EqualValues(t, 30, st.Rank)
	require.Eventually(t, func() bool { return e3.setRank.Load() == 1 && e3.ping.Load() >= 2 }, daemontest.WaitFor, daemontest.Tick)
	assert.EqualValues(t, 30, e3.rank.Load(), "the configured rank, set again")
	assert.Equal(t, 1, rec.count("engine adopted"))

	// Adopting it again, or its socket under another index, does nothing.
	for _, info := range []Info{{Index: 3, Socket: enginePath(dir, 3)}, {Index: 4, Socket: enginePath(dir, 3)}} {
		adopted, err = r.Adopt(info)
		require.NoError(t, err)
		assert.False(t, adopted, "%+v", info)
	}
	require.Len(t, r.Statuses(), 1)

	// The same process notifies: what only a notification says is filled
	// in, and the rank is not set again.
	require.NoError(t, r.Ready(Info{Index: 3, Socket: enginePath(dir, 3), PID: 500, Incarnation: 9, URI: "tcp://x:1"}))
	st = status(t, r, 3)
	assert.Equal(t, "tcp://x:1", st.URI)
	assert.EqualValues(t, 9, st.Incarnation)
	assert.False(t, st.Notified.IsZero())
	assert.True(t, st.RankSet)
	pings := e3.ping.Load()
	require.Eventually(t, func() bool { return e3.ping.Load() > pings }, daemontest.WaitFor, daemontest.Tick, "still pinged")
	assert.EqualValues(t, 1, e3.setRank.Load())
	assert.Equal(t, 1, rec.count("adopted engine notified ready"))

	// Another notification starts over, as for any engine.
	require.NoError(t, r.Ready(Info{Index: 3, Socket: enginePath(dir, 3), PID: 500, Incarnation: 10}))
	require.Eventually(t, func() bool { return e3.setRank.Load() == 2 }, daemontest.WaitFor, daemontest.Tick)

	require.NoError(t, r.Shutdown(context.Background()))
	assert.EqualValues(t, 1, e3.prep.Load())
	_, err = r.Adopt(Info{Index: 5, Socket: enginePath(dir, 5)})
	require.ErrorIs(t, err, ErrClosed)
}

// TestAdoptedByAnotherProcess: a notification from another process than
// the adopted one (the engine restarted in between), or for an engine whose
// process was unknown, starts over.
func TestAdoptedByAnotherProcess(t *testing.T) {
	tests := []struct {
		name string
		pid  int32 // the adopted engine's
	}{
		{"another pid", 700},
		{"pid unknown at adoption", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := daemontest.SocketDir(t)
			r := newTestRegistry(t, nil, nil)
			e := startEngine(t, enginePath(dir, 0), &fakeEngine{})
			adopted, err := r.Adopt(Info{Index: 0, Socket: enginePath(dir, 0), PID: tc.pid})
			require.NoError(t, err)
			require.True(t, adopted)
			require.Eventually(t, func() bool { return e.setRank.Load() == 1 }, daemontest.WaitFor, daemontest.Tick)
			require.NoError(t, r.Ready(Info{Index: 0, Socket: enginePath(dir, 0), PID: 701, URI: "u"}))
			st := status(t, r, 0)
			assert.False(t, st.Adopted, "a fresh notification")
			assert.EqualValues(t, 701, st.PID)
			require.Eventually(t, func() bool { return e.setRank.Load() == 2 }, daemontest.WaitFor, daemontest.Tick, "the rank is set again")
		})
	}
}
