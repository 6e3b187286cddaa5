package drpc_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/drpc"
)

// logRecorder is a slog.Handler that keeps every record, for tests that
// check what the server logs.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec.Clone())
	return nil
}

// find returns the records whose message contains msg, as maps of their
// attributes (with "level" and "msg").
func (r *logRecorder) find(msg string) []map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []map[string]string
	for _, rec := range r.records {
		if !strings.Contains(rec.Message, msg) {
			continue
		}
		m := map[string]string{"level": rec.Level.String(), "msg": rec.Message}
		rec.Attrs(func(a slog.Attr) bool {
			m[a.Key] = a.Value.String()
			return true
		})
		out = append(out, m)
	}
	return out
}

func TestCloseInterruptsCallInFlight(t *testing.T) {
	// Close ends a call in progress at once, even with a context that never
	// ends and a server that does not answer; the call says why.
	srv, mod := startServer(t)
	c := connect(t, srv)
	inFlight := blockingCall(t, c, mod) // the handler blocks until released
	defer close(mod.block)

	start := time.Now()
	require.NoError(t, c.Close())
	res := receive(t, inFlight, "the interrupted call")
	t.Logf("the call ended %v after Close", time.Since(start))
	require.ErrorIs(t, res.err, drpc.ErrConnectionClosed)
	assert.Contains(t, res.err.Error(), "interrupted")
	assert.Equal(t, int32(1), mod.blocked.Load(), "the call ended while its handler was still running")
	assert.False(t, c.IsConnected())

	// The client can connect again and call.
	require.NoError(t, c.Connect(context.Background()))
	echo(t, c, "after reconnect")
}

func TestCloseDuringCallsFromManyGoroutines(t *testing.T) {
	// Close while calls run and wait from many goroutines: every call
	// returns, none hangs or races.
	srv, _ := startServer(t)
	c := connect(t, srv)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				_, _ = c.SendMsg(context.Background(), &drpc.Call{Method: int32(methodEcho), Body: []byte("x")})
			}
		})
	}
	time.Sleep(time.Millisecond)
	require.NoError(t, c.Close())
	wg.Wait()
}

func TestShutdownAfterStartContextEnded(t *testing.T) {
	// A server stopped by the end of Start's context, then shut down: an
	// idle one returns nil, every time.
	for i := range 20 {
		srv, err := drpc.NewDomainSocketServer(socketPath(t))
		require.NoError(t, err)
		require.NoError(t, srv.RegisterRPCModule(&echoModule{block: make(chan struct{})}))
		ctx, cancel := context.WithCancel(context.Background())
		require.NoError(t, srv.Start(ctx))
		c := drpc.NewClientConnection(srv.SocketPath())
		require.NoError(t, c.Connect(context.Background()))
		if i%2 == 0 {
			echo(t, c, "an idle session")
		}
		cancel()
		assertGoneEventually(t, srv.SocketPath())
		if i%4 == 0 {
			time.Sleep(5 * time.Millisecond) // a pause between cancel and Shutdown
		}
		assert.NoError(t, srv.Shutdown(context.Background()), "run %d", i)
		_ = c.Close()
	}
}

func TestShutdownByStartContextCountsOnlyCutCalls(t *testing.T) {
	srv, err := drpc.NewDomainSocketServer(socketPath(t))
	require.NoError(t, err)
	mod := &echoModule{block: make(chan struct{})}
	require.NoError(t, srv.RegisterRPCModule(mod))
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, srv.Start(ctx))
	busy := drpc.NewClientConnection(srv.SocketPath())
	require.NoError(t, busy.Connect(context.Background()))
	defer busy.Close()
	idle := drpc.NewClientConnection(srv.SocketPath())
	require.NoError(t, idle.Connect(context.Background()))
	defer idle.Close()
	echo(t, idle, "idle")
	inFlight := blockingCall(t, busy, mod)

	cancel()
	err = srv.Shutdown(context.Background())
	require.ErrorIs(t, err, drpc.ErrShutdownInterrupted)
	require.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, err.Error(), "1 call(s) cut off", "only the session with a call in flight counts")
	res := receive(t, inFlight, "the cut-off call")
	assert.Error(t, res.err)
}

// stubborn is module 9: method 901 blocks until released, ignoring its
// context.
type stubborn struct {
	started chan struct{}
	release chan struct{}
}

var methodStubborn = drpc.NewMethod(9, 901, "stubborn")

func (stubborn) ID() drpc.ModuleID { return 9 }
func (stubborn) String() string    { return "stubborn" }
func (stubborn) GetMethod(id drpc.MethodID) (drpc.Method, error) {
	if id != 901 {
		return nil, drpc.NewFailure(drpc.StatusUnknownMethod, "")
	}
	return methodStubborn, nil
}
func (m stubborn) HandleCall(context.Context, *drpc.Session, drpc.Method, []byte) ([]byte, error) {
	m.started <- struct{}{}
	<-m.release
	return nil, nil
}

func TestForcedShutdownSaysWhenHandlersIgnoreTheirContext(t *testing.T) {
	srv, _ := startServer(t)
	mod := stubborn{started: make(chan struct{}, 1), release: make(chan struct{})}
	require.NoError(t, srv.RegisterRPCModule(mod))
	c := connect(t, srv)
	go func() { _, _ = c.SendMsg(context.Background(), &drpc.Call{Module: 9, Method: 901}) }()
	receive(t, mod.started, "the stubborn handler")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	err := srv.Shutdown(ctx)
	require.ErrorIs(t, err, drpc.ErrShutdownInterrupted)
	assert.Contains(t, err.Error(), "1 call(s) cut off")
	assert.Contains(t, err.Error(), "1 handler(s) still running")
	close(mod.release)
	sessionsDropTo(t, srv, 0)
}

func TestFailuresAreLogged(t *testing.T) {
	// A handler's failure is logged once, at warn, with what the client
	// cannot see; a call to an unknown module or method at info.
	rec := &logRecorder{}
	srv, _ := startServer(t, drpc.WithLogger(slog.New(rec)))
	require.NoError(t, srv.RegisterRPCModule(failing{}))
	c := connect(t, srv)
	for _, call := range []*drpc.Call{
		{Module: 6, Method: 601},
		{Module: 42, Method: 4201},
		{Module: 6, Method: 699},
		{Module: 6, Method: 101},
	} {
		_, err := c.SendMsg(context.Background(), call)
		require.NoError(t, err)
	}
	failed := rec.find("dRPC call failed")
	require.Len(t, failed, 1, "once per call")
	f := failed[0]
	assert.Equal(t, "WARN", f["level"])
	assert.Equal(t, "failing", f["module"])
	assert.Equal(t, "fails", f["method"])
	assert.Equal(t, "STATUS_FAILED_UNMARSHAL_PAYLOAD", f["status"])
	assert.Equal(t, "the request is missing its pool UUID: disk on fire", f["message"])
	assert.Equal(t, "disk on fire", f["cause"])

	refused := rec.find("dRPC call refused")
	require.Len(t, refused, 3)
	for _, r := range refused {
		assert.Equal(t, "INFO", r["level"])
	}
	assert.Equal(t, "STATUS_UNKNOWN_MODULE", refused[0]["status"])
	assert.Equal(t, "STATUS_UNKNOWN_METHOD", refused[1]["status"])
	assert.Equal(t, "STATUS_UNKNOWN_METHOD", refused[2]["status"])
}

// failing is module 6: method 601 fails with a message and a cause.
type failing struct{}

var methodFails = drpc.NewMethod(6, 601, "fails")

func (failing) ID() drpc.ModuleID { return 6 }
func (failing) String() string    { return "failing" }
func (failing) GetMethod(id drpc.MethodID) (drpc.Method, error) {
	if id != 601 {
		return nil, drpc.NewFailure(drpc.StatusUnknownMethod, "")
	}
	return methodFails, nil
}
func (failing) HandleCall(context.Context, *drpc.Session, drpc.Method, []byte) ([]byte, error) {
	return nil, drpc.WrapFailure(drpc.StatusFailedUnmarshalPayload,
		fmt.Errorf("the request is missing its pool UUID: %w", errors.New("disk on fire")))
}

func TestHangupWatchSurvivesStrayPackets(t *testing.T) {
	// A client that sends a packet during its call, and then hangs up, still
	// ends the call's context: the watch asks for the hang-up itself, not
	// for readable data.
	srv, mod := startServer(t)
	c := dialPacket(t, srv.SocketPath())
	require.NoError(t, writePackets(c, messagePackets(marshalCall(t, &drpc.Call{Method: int32(methodBlock), Sequence: 1}))...))
	eventually(t, func() bool { return mod.blocked.Load() == 1 }, "the handler should be running")
	require.NoError(t, writePackets(c, messagePackets(marshalCall(t, &drpc.Call{Method: int32(methodEcho), Sequence: 2}))...))
	require.NoError(t, c.Close())
	eventually(t, func() bool { return mod.ctxEnded.Load() == 1 }, "the hang-up should end the call's context")
	sessionsDropTo(t, srv, 0)
}

func TestHangupWatchSeesPacketsStay(t *testing.T) {
	// A packet sent during a long call is not eaten by the watch: the
	// session answers it after the call.
	srv, mod := startServer(t)
	c := dialPacket(t, srv.SocketPath())
	require.NoError(t, writePackets(c, messagePackets(marshalCall(t, &drpc.Call{Method: int32(methodBlock), Sequence: 1}))...))
	eventually(t, func() bool { return mod.blocked.Load() == 1 }, "the handler should be running")
	require.NoError(t, writePackets(c, messagePackets(marshalCall(t, &drpc.Call{Method: int32(methodEcho), Sequence: 2, Body: []byte("queued")}))...))
	time.Sleep(3 * 100 * time.Millisecond) // let the watch start and look at the packet
	mod.block <- struct{}{}
	first := readResponse(t, c)
	assert.Equal(t, int64(1), first.Sequence)
	assert.Equal(t, "done", string(first.Body))
	second := readResponse(t, c)
	assert.Equal(t, int64(2), second.Sequence)
	assert.Equal(t, "queued", string(second.Body))
}
