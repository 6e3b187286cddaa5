package app

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/daemon/daemontest"
	"github.com/cc532012/drpc/drpc"
)

// startEcho serves EchoModule in-process on a new socket; stop shuts it
// down (also at the end of the test).
func startEcho(t *testing.T) (socket string, stop func()) {
	t.Helper()
	socket = filepath.Join(daemontest.SocketDir(t), "echo.sock")
	srv := daemontest.Serve(t, socket, []drpc.Module{EchoModule{}}, drpc.WithMaxMessageSize(maxMessageSize))
	return socket, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
}

func echoTarget(t *testing.T) Target {
	t.Helper()
	target, err := Resolve("", "Echo")
	require.NoError(t, err)
	return target
}

// TestRunBench runs the load in-process, so that -race sees the workers.
func TestRunBench(t *testing.T) {
	socket, _ := startEcho(t)
	res, err := runBench(t.Context(), benchConfig{
		socket: socket, target: echoTarget(t), body: EchoBody(100),
		conns: 3, duration: 300 * time.Millisecond, timeout: time.Second,
	})
	require.NoError(t, err)
	assert.Positive(t, res.Calls)
	assert.Empty(t, res.Errors)
	assert.False(t, res.Interrupted)
	assert.LessOrEqual(t, res.MinUS, res.P50US)
	assert.LessOrEqual(t, res.P50US, res.P90US)
	assert.LessOrEqual(t, res.P90US, res.P99US)
	assert.LessOrEqual(t, res.P99US, res.MaxUS)
	assert.Equal(t, 100, res.BodyBytes)
}

// TestRunBenchServerGoes checks that calls that fail once the server stops
// are counted by kind, and that the load goes on (reconnecting) until the
// end.
func TestRunBenchServerGoes(t *testing.T) {
	socket, stop := startEcho(t)
	time.AfterFunc(150*time.Millisecond, stop)
	res, err := runBench(t.Context(), benchConfig{
		socket: socket, target: echoTarget(t), body: EchoBody(10),
		conns: 2, duration: 500 * time.Millisecond, timeout: time.Second,
	})
	require.NoError(t, err)
	assert.Positive(t, res.Calls)
	assert.Positive(t, res.ErrorCount())
	t.Logf("errors: %v, calls %d", res.Errors, res.Calls)
	for kind := range res.Errors {
		assert.Contains(t, []string{KindNoSocket, KindClosed, KindRefused, "status_FAILURE"}, kind)
	}
	assert.InDelta(t, 0.5, res.Seconds, 0.5)
}

// TestRunBenchInterrupted checks that an ended context stops the load and
// marks the result, without counting the calls it cut off as errors.
func TestRunBenchInterrupted(t *testing.T) {
	socket, _ := startEcho(t)
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	res, err := runBench(ctx, benchConfig{
		socket: socket, target: echoTarget(t), body: nil,
		conns: 2, duration: 10 * time.Second, timeout: time.Second,
	})
	require.NoError(t, err)
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.True(t, res.Interrupted)
	assert.Positive(t, res.Calls)
	assert.Empty(t, res.Errors)
}

// TestShowProgress checks the live line: redrawn in place with \r, at most
// every progressInterval, and erased at the end.
func TestShowProgress(t *testing.T) {
	var (
		out  daemontest.SyncBuffer
		wg   sync.WaitGroup
		live liveCounts
	)
	live.calls.Store(1234)
	live.errors.Store(5)
	wg.Go(func() { time.Sleep(450 * time.Millisecond) })
	start := time.Now()
	showProgress(&out, &wg, &live, start, time.Second)
	s := out.String()
	updates := strings.Count(s, "calls/s")
	assert.GreaterOrEqual(t, updates, 2)
	assert.LessOrEqual(t, updates, 5, "at most one update per %s", progressInterval)
	assert.Equal(t, updates+1, strings.Count(s, "\r"))
	assert.NotContains(t, s, "\n", "the line is redrawn in place")
	assert.Contains(t, s, "1234 calls")
	assert.Contains(t, s, "5 errors")
	assert.True(t, strings.HasSuffix(s, "\r\x1b[K"), "the line is erased at the end")
}

func TestBenchUnreachable(t *testing.T) {
	dir := t.TempDir()
	_, err := runBench(t.Context(), benchConfig{
		socket: filepath.Join(dir, "none.sock"), target: echoTarget(t),
		conns: 1, duration: time.Second, timeout: time.Second,
	})
	var te *TransportError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, KindNoSocket, te.Kind)
}

func TestErrorSummary(t *testing.T) {
	assert.Equal(t, "timeout 3, closed_by_server 1, status_FAILURE 1",
		errorSummary(map[string]uint64{"status_FAILURE": 1, "timeout": 3, "closed_by_server": 1}))
}
