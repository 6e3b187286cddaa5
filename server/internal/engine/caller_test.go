package engine

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	mgmtv1drpc "github.com/cc532012/drpc/api/mgmt/v1/mgmtv1drpc"
	srvv1drpc "github.com/cc532012/drpc/api/srv/v1/srvv1drpc"
	testv1drpc "github.com/cc532012/drpc/api/test/v1/testv1drpc"
	"github.com/cc532012/drpc/daemon/daemontest"
	"github.com/cc532012/drpc/drpc"
	mgmtv1 "github.com/cc532012/drpc/proto/drpc/mgmt/v1"
	srvv1 "github.com/cc532012/drpc/proto/drpc/srv/v1"
	testv1 "github.com/cc532012/drpc/proto/drpc/test/v1"
)

func TestIdempotentFromSchema(t *testing.T) {
	tests := []struct {
		method drpc.Method
		want   bool
	}{
		{mgmtv1drpc.MgmtServiceSetRankMethod, true},
		{mgmtv1drpc.MgmtServicePrepShutdownMethod, true},
		{mgmtv1drpc.MgmtServicePingRankMethod, true},
		{testv1drpc.TestServiceEchoMethod, false},
		{drpc.NewMethod(2, 201, "kill rank, not in the schema"), false},
	}
	for _, tc := range tests {
		t.Run(tc.method.String(), func(t *testing.T) {
			assert.Equal(t, tc.want, Idempotent(tc.method))
		})
	}
}

func TestBackoff(t *testing.T) {
	p := Policy{InitialBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, Multiplier: 2}.withDefaults()
	tests := []struct {
		attempt int
		full    time.Duration // the wait before jitter
	}{
		{1, 10 * time.Millisecond},
		{2, 20 * time.Millisecond},
		{3, 40 * time.Millisecond},
		{4, 80 * time.Millisecond},
		{5, 100 * time.Millisecond},
		{50, 100 * time.Millisecond},
	}
	for _, tc := range tests {
		for range 100 {
			d := p.backoff(tc.attempt)
			require.GreaterOrEqual(t, d, tc.full/2, "attempt %d", tc.attempt)
			require.LessOrEqual(t, d, tc.full, "attempt %d", tc.attempt)
		}
	}
	def := Policy{}.withDefaults()
	assert.Equal(t, DefaultInitialBackoff, def.InitialBackoff)
	assert.Equal(t, DefaultMaxBackoff, def.MaxBackoff)
	assert.Equal(t, DefaultMultiplier, def.Multiplier)
	assert.Equal(t, DefaultCallTimeout, def.CallTimeout)
}

// TestLateEngine: an engine whose socket appears only after 300 ms is
// reached: the call is retried while the socket is missing, within an
// attempt (by the pool) and from attempt to attempt.
func TestLateEngine(t *testing.T) {
	dir := daemontest.SocketDir(t)
	path := enginePath(dir, 0)
	rec := &records{}
	c := NewCaller(CallerOptions{Logger: slog.New(rec), Policy: Policy{AttemptTimeout: 100 * time.Millisecond}})
	defer c.Close()

	f := &fakeEngine{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	called := make(chan error, 1)
	go func() {
		var resp mgmtv1.DaosResp
		called <- c.Call(ctx, Target{Name: "engine 0", Socket: path}, mgmtv1drpc.MgmtServiceSetRankMethod, &mgmtv1.SetRankReq{Rank: 3}, &resp)
	}()
	// The engine comes once the caller has found no socket and retries.
	require.Eventually(t, func() bool { return rec.count("retrying") > 0 }, daemontest.WaitFor, daemontest.Tick)
	startEngine(t, path, f)
	err := <-called
	require.NoError(t, err)
	assert.EqualValues(t, 1, f.setRank.Load(), "the request reached the engine once")
	assert.EqualValues(t, 3, f.rank.Load())
	assert.Positive(t, rec.count("retrying"), "the first attempts found no socket")
}

// hangFirst makes the first call of every method hang until its client
// hangs up (or release is closed), and answers the others at once.
func hangFirst(release <-chan struct{}) func(ctx context.Context, _ string, n int32) {
	return func(ctx context.Context, _ string, n int32) {
		if n == 1 {
			select {
			case <-ctx.Done():
			case <-release:
			}
		}
	}
}

// echo counts its calls and hangs on the first one, like hangFirst.
type echo struct {
	testv1drpc.UnimplementedTestServiceServer
	calls   atomic.Int32
	release <-chan struct{}
}

func (e *echo) Echo(ctx context.Context, _ *drpc.Session, req *testv1.EchoRequest) (*testv1.EchoResponse, error) {
	hangFirst(e.release)(ctx, "Echo", e.calls.Add(1))
	return &testv1.EchoResponse{Payload: req.GetPayload()}, nil
}

// TestSentRequestRetriedOnlyIfIdempotent: an attempt whose request was sent
// and then timed out is sent again for an idempotent method (ping), and not
// for another (echo).
func TestSentRequestRetriedOnlyIfIdempotent(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	dir := daemontest.SocketDir(t)
	path := enginePath(dir, 7)
	e := &echo{release: release}
	f := startEngine(t, path, &fakeEngine{hang: hangFirst(release)}, testv1drpc.NewTestServiceModule(e))
	c := NewCaller(CallerOptions{Policy: Policy{AttemptTimeout: 100 * time.Millisecond}})
	defer c.Close()
	target := Target{Name: "engine 7", Socket: path}

	tests := []struct {
		name       string
		method     drpc.Method
		req, reply proto.Message
		calls      func() int32
		retried    bool
	}{
		{"idempotent ping is sent again", mgmtv1drpc.MgmtServicePingRankMethod, &mgmtv1.PingRankReq{}, &mgmtv1.DaosResp{}, f.ping.Load, true},
		{"echo is not sent again", testv1drpc.TestServiceEchoMethod, &testv1.EchoRequest{Payload: []byte("x")}, &testv1.EchoResponse{}, e.calls.Load, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := c.Call(ctx, target, tc.method, tc.req, tc.reply)
			if tc.retried {
				require.NoError(t, err)
				assert.EqualValues(t, 2, tc.calls(), "the engine saw the request twice")
				return
			}
			require.Error(t, err)
			assert.EqualValues(t, 1, tc.calls(), "the engine saw the request once")
			assert.ErrorIs(t, err, ErrNotRetried)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			var ce *CallError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, 1, ce.Attempts)
			assert.True(t, ce.Sent)
			for _, want := range []string{"engine 7", path, tc.method.String(), "method 1", "after 1 attempt", "not idempotent"} {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
}

// TestCallErrors: calls that cannot succeed end with an error that names
// the engine, the method and the attempts, and are retried only while the
// engine may still come.
func TestCallErrors(t *testing.T) {
	dir := daemontest.SocketDir(t)
	unimplemented := filepath.Join(dir, "daos_engine1.sock")
	startEngine(t, unimplemented, nil, testv1drpc.NewTestServiceModule(&echo{}))
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))

	c := NewCaller(CallerOptions{Policy: Policy{InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}})
	defer c.Close()
	tests := []struct {
		name    string
		socket  string
		timeout time.Duration
		is      []error
		status  drpc.Status
		want    []string
	}{
		{"no socket until the deadline", filepath.Join(dir, "daos_engine9.sock"), 200 * time.Millisecond,
			[]error{fs.ErrNotExist, context.DeadlineExceeded, drpc.ErrNotSent}, drpc.StatusFailure, []string{"gave up after", "is the engine running?"}},
		{"the engine does not serve the module", unimplemented, 5 * time.Second,
			nil, drpc.StatusUnknownModule, []string{"after 1 attempt:"}},
		{"a path through a regular file", filepath.Join(file, "x.sock"), 5 * time.Second,
			[]error{syscall.ENOTDIR}, drpc.StatusFailure, []string{"after 1 attempt:"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), tc.timeout)
			defer cancel()
			target := Target{Name: "engine 9", Socket: tc.socket}
			err := c.Call(ctx, target, mgmtv1drpc.MgmtServicePingRankMethod, &mgmtv1.PingRankReq{}, &mgmtv1.DaosResp{})
			require.Error(t, err)
			var ce *CallError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, target, ce.Target)
			assert.Equal(t, 1, ce.Attempts, "the pool retried the missing socket within the attempt")
			for _, is := range tc.is {
				assert.ErrorIs(t, err, is)
			}
			assert.Equal(t, tc.status, drpc.StatusOf(err))
			assert.NotErrorIs(t, err, ErrNotRetried)
			for _, want := range append([]string{"engine 9", "drpc.mgmt.v1.MgmtService.PingRank (method 225)"}, tc.want...) {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
}

// TestNoDeadline: a call whose context has no deadline stops after the
// policy's CallTimeout.
func TestNoDeadline(t *testing.T) {
	c := NewCaller(CallerOptions{Policy: Policy{CallTimeout: 100 * time.Millisecond}})
	defer c.Close()
	err := c.Call(context.Background(), Target{Name: "engine 1", Socket: filepath.Join(daemontest.SocketDir(t), "none.sock")},
		mgmtv1drpc.MgmtServicePingRankMethod, &mgmtv1.PingRankReq{}, &mgmtv1.DaosResp{})
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

// TestBadRequest: a request that does not encode is not sent.
func TestBadRequest(t *testing.T) {
	c := NewCaller(CallerOptions{})
	defer c.Close()
	err := c.Call(context.Background(), Target{Name: "engine 1", Socket: "/nonexistent/x.sock"},
		srvv1drpc.SrvServiceNotifyReadyMethod, &srvv1.NotifyReadyReq{Uri: "\xff"}, &srvv1.NotifyReadyResp{})
	require.Error(t, err)
	var ce *CallError
	require.ErrorAs(t, err, &ce)
	assert.Zero(t, ce.Attempts)
	assert.False(t, ce.Sent)
	assert.Contains(t, err.Error(), "engine 1 (/nonexistent/x.sock): drpc.srv.v1.SrvService.NotifyReady (method 301): request does not encode")
	assert.False(t, errors.Is(err, ErrNotRetried))
}

// TestEngineRestartsBetweenCalls: the Caller keeps a session to an engine
// between calls; when the engine restarts on the same socket, the next
// call, of any method, reaches the new engine once and without an error:
// the old session fails before the request is sent, and the pool redials.
func TestEngineRestartsBetweenCalls(t *testing.T) {
	dir := daemontest.SocketDir(t)
	path := enginePath(dir, 3)
	c := NewCaller(CallerOptions{})
	defer c.Close()
	target := Target{Name: "engine 3", Socket: path}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	released := make(chan struct{})
	close(released) // the echo does not hang
	for round := range 3 {
		f := &fakeEngine{}
		e := &echo{release: released}
		startEngine(t, path, f, testv1drpc.NewTestServiceModule(e))
		require.NoError(t, c.Call(ctx, target, mgmtv1drpc.MgmtServicePingRankMethod, &mgmtv1.PingRankReq{}, &mgmtv1.DaosResp{}), "round %d", round)
		var reply testv1.EchoResponse
		require.NoError(t, c.Call(ctx, target, testv1drpc.TestServiceEchoMethod, &testv1.EchoRequest{Payload: []byte("x")}, &reply), "round %d", round)
		assert.EqualValues(t, 1, f.ping.Load(), "round %d", round)
		assert.EqualValues(t, 1, e.calls.Load(), "round %d: the non-idempotent echo ran once", round)
		assert.Equal(t, 1, f.srv.NumSessions(), "round %d: one session, kept", round)
		stop(f.srv) // a graceful stop: the kept session is half-closed
	}
}

// TestCallerClose: a closed Caller closes its sessions and refuses calls.
func TestCallerClose(t *testing.T) {
	path := enginePath(daemontest.SocketDir(t), 4)
	f := startEngine(t, path, &fakeEngine{})
	c := NewCaller(CallerOptions{})
	target := Target{Name: "engine 4", Socket: path}
	require.NoError(t, c.Call(context.Background(), target, mgmtv1drpc.MgmtServicePingRankMethod, &mgmtv1.PingRankReq{}, &mgmtv1.DaosResp{}))
	require.NoError(t, c.Close())
	require.Eventually(t, func() bool { return f.srv.NumSessions() == 0 }, 5*time.Second, time.Millisecond)
	err := c.Call(context.Background(), target, mgmtv1drpc.MgmtServicePingRankMethod, &mgmtv1.PingRankReq{}, &mgmtv1.DaosResp{})
	require.ErrorIs(t, err, drpc.ErrConnectionClosed)
	assert.EqualValues(t, 1, f.ping.Load())
}

// BenchmarkCall measures a ping through the Caller (a session kept in its
// pool) against a ping on a new connection per call (what the Caller did
// before, as DAOS's server does) and a ping on a connection kept open by
// hand, which server/README weighs. Engine and server are both in the
// benchmark's process, so B/op counts both ends.
func BenchmarkCall(b *testing.B) {
	dir := daemontest.SocketDir(b)
	path := enginePath(dir, 0)
	startEngine(b, path, &fakeEngine{})
	ctx := context.Background()
	target := Target{Name: "engine 0", Socket: path}

	b.Run("new-connection", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			conn := drpc.NewClientConnection(path)
			if err := conn.Connect(ctx); err != nil {
				b.Fatal(err)
			}
			if _, err := mgmtv1drpc.NewMgmtServiceClient(conn).PingRank(ctx, &mgmtv1.PingRankReq{}); err != nil {
				b.Fatal(err)
			}
			_ = conn.Close()
		}
	})
	b.Run("caller-pool", func(b *testing.B) {
		c := NewCaller(CallerOptions{})
		defer c.Close()
		b.ReportAllocs()
		for b.Loop() {
			var resp mgmtv1.DaosResp
			if err := c.Call(ctx, target, mgmtv1drpc.MgmtServicePingRankMethod, &mgmtv1.PingRankReq{}, &resp); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("kept-connection", func(b *testing.B) {
		conn := drpc.NewClientConnection(path)
		if err := conn.Connect(ctx); err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		client := mgmtv1drpc.NewMgmtServiceClient(conn)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := client.PingRank(ctx, &mgmtv1.PingRankReq{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
