package engine

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/daemon/daemontest"
)

func newTestRegistry(t *testing.T, ranks map[uint32]uint32, log *slog.Logger) *Registry {
	t.Helper()
	r := NewRegistry(Options{
		Caller:       NewCaller(CallerOptions{Policy: Policy{InitialBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond, AttemptTimeout: time.Second}}),
		Ranks:        ranks,
		PingInterval: 20 * time.Millisecond,
		CallTimeout:  2 * time.Second,
		Logger:       log,
	})
	t.Cleanup(func() { _ = r.Shutdown(context.Background()) })
	return r
}

// status returns the status of engine index, failing if there is none.
func status(t *testing.T, r *Registry, index uint32) Status {
	t.Helper()
	for _, st := range r.Statuses() {
		if st.Index == index {
			return st
		}
	}
	t.Fatalf("no engine %d", index)
	return Status{}
}

func stateIs(r *Registry, index uint32, want State) func() bool {
	return func() bool {
		for _, st := range r.Statuses() {
			if st.Index == index {
				return st.State == want
			}
		}
		return false
	}
}

// TestRegistryLifecycle: notify -> set rank (mapped or the index) -> pings;
// an engine that dies is unavailable, one that removed its socket is
// stopped; answering or notifying again makes it ready; Shutdown prepares
// the ready engines and refuses new ones.
func TestRegistryLifecycle(t *testing.T) {
	dir := daemontest.SocketDir(t)
	rec := &records{}
	r := newTestRegistry(t, map[uint32]uint32{1: 11}, slog.New(rec))

	e0 := startEngineLeavingSocket(t, enginePath(dir, 0), &fakeEngine{})
	e1 := startEngine(t, enginePath(dir, 1), &fakeEngine{})
	require.NoError(t, r.Ready(Info{Index: 0, Socket: enginePath(dir, 0), PID: 100, Incarnation: 7}))
	require.NoError(t, r.Ready(Info{Index: 1, Socket: enginePath(dir, 1), PID: 101}))

	require.Eventually(t, func() bool { return e0.ping.Load() >= 2 && e1.ping.Load() >= 2 }, daemontest.WaitFor, daemontest.Tick, "pings")
	assert.EqualValues(t, 1, e0.setRank.Load())
	assert.EqualValues(t, 0, e0.rank.Load(), "rank = index when not mapped")
	assert.EqualValues(t, 11, e1.rank.Load(), "the mapped rank")
	st := status(t, r, 0)
	assert.Equal(t, Ready, st.State)
	assert.True(t, st.RankSet)
	assert.False(t, st.LastPing.IsZero())
	assert.EqualValues(t, 100, st.PID)
	assert.EqualValues(t, 7, st.Incarnation)
	assert.Empty(t, st.Err)
	assert.Equal(t, []uint32{0, 1}, []uint32{r.Statuses()[0].Index, r.Statuses()[1].Index}, "by index")

	// Engine 0 dies and leaves its socket: unavailable.
	stop(e0.srv)
	require.Eventually(t, stateIs(r, 0, Unavailable), daemontest.WaitFor, daemontest.Tick)
	assert.Contains(t, status(t, r, 0).Err, "connection refused")
	assert.Positive(t, rec.count("engine unavailable"))

	// It comes back on the same socket and answers: ready again, without
	// notifying.
	require.NoError(t, os.Remove(enginePath(dir, 0)))
	back := startEngine(t, enginePath(dir, 0), &fakeEngine{})
	require.Eventually(t, stateIs(r, 0, Ready), daemontest.WaitFor, daemontest.Tick)
	require.Eventually(t, func() bool { return back.ping.Load() >= 1 }, daemontest.WaitFor, daemontest.Tick)
	assert.Positive(t, rec.count("engine answers again"))

	// Engine 1 stops cleanly (its socket is removed): stopped.
	stop(e1.srv)
	require.Eventually(t, stateIs(r, 1, Stopped), daemontest.WaitFor, daemontest.Tick)

	// It restarts and notifies again: ready, and its rank is set again.
	e1b := startEngine(t, enginePath(dir, 1), &fakeEngine{})
	require.NoError(t, r.Ready(Info{Index: 1, Socket: enginePath(dir, 1), PID: 102}))
	assert.Equal(t, Ready, status(t, r, 1).State)
	require.Eventually(t, func() bool { return e1b.setRank.Load() == 1 && e1b.ping.Load() >= 1 }, daemontest.WaitFor, daemontest.Tick)
	assert.EqualValues(t, 102, status(t, r, 1).PID)

	// Shutdown prepares both, then refuses new engines.
	require.NoError(t, r.Shutdown(context.Background()))
	assert.EqualValues(t, 1, back.prep.Load())
	assert.EqualValues(t, 1, e1b.prep.Load())
	for _, st := range r.Statuses() {
		assert.Equal(t, Stopped, st.State, "engine %d", st.Index)
	}
	require.ErrorIs(t, r.Ready(Info{Index: 2, Socket: enginePath(dir, 2)}), ErrClosed)
	require.NoError(t, r.Shutdown(context.Background()), "a second Shutdown does nothing")
}

// TestShutdownSkipsUnavailable: only ready engines are prepared, and one
// that does not answer is reported without holding the others.
func TestShutdownSkipsUnavailable(t *testing.T) {
	dir := daemontest.SocketDir(t)
	r := newTestRegistry(t, nil, nil)
	gone := startEngineLeavingSocket(t, enginePath(dir, 0), &fakeEngine{})
	ok := startEngine(t, enginePath(dir, 1), &fakeEngine{})
	require.NoError(t, r.Ready(Info{Index: 0, Socket: enginePath(dir, 0)}))
	require.NoError(t, r.Ready(Info{Index: 1, Socket: enginePath(dir, 1)}))
	require.Eventually(t, func() bool { return ok.ping.Load() >= 1 && gone.ping.Load() >= 1 }, daemontest.WaitFor, daemontest.Tick)
	stop(gone.srv)
	require.Eventually(t, stateIs(r, 0, Unavailable), daemontest.WaitFor, daemontest.Tick)

	require.NoError(t, r.Shutdown(context.Background()))
	assert.EqualValues(t, 0, gone.prep.Load())
	assert.EqualValues(t, 1, ok.prep.Load())
	assert.Equal(t, Unavailable, status(t, r, 0).State)
	assert.Equal(t, Stopped, status(t, r, 1).State)
}

// TestSocketTakenOver: an engine of another index that notifies with the
// socket of a known engine replaces it.
func TestSocketTakenOver(t *testing.T) {
	dir := daemontest.SocketDir(t)
	r := newTestRegistry(t, nil, nil)
	startEngine(t, enginePath(dir, 0), &fakeEngine{})
	require.NoError(t, r.Ready(Info{Index: 0, Socket: enginePath(dir, 0)}))
	require.NoError(t, r.Ready(Info{Index: 4, Socket: enginePath(dir, 0)}))
	st := r.Statuses()
	require.Len(t, st, 1)
	assert.EqualValues(t, 4, st[0].Index)
	require.NoError(t, r.Shutdown(context.Background()))
}

func TestStateString(t *testing.T) {
	assert.Equal(t, "ready", Ready.String())
	assert.Equal(t, "unavailable", Unavailable.String())
	assert.Equal(t, "stopped", Stopped.String())
	assert.Equal(t, "State(9)", State(9).String())
}
