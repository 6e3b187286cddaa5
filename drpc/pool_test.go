package drpc_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/drpc"
	testv1 "github.com/cc532012/drpc/proto/drpc/test/v1"
)

// countingModule is module 6 of the pool tests. Its methods answer the
// request body and count how often each body ran: 601 ("once") is not
// idempotent, 602 ("again") is; 603 ("block") waits until its context
// ends or release is closed. Every call notes the most sessions its server
// had while it ran.
type countingModule struct {
	release chan struct{}
	server  atomic.Pointer[drpc.DomainSocketServer] // the one serving now

	mu   sync.Mutex
	runs map[string]int // by method name and body

	running     atomic.Int32 // calls running now
	maxRunning  atomic.Int32
	maxSessions atomic.Int32
}

const countingModuleID drpc.ModuleID = 6

var (
	methodOnce  = drpc.NewMethod(countingModuleID, 601, "once")
	methodAgain = drpc.NewIdempotentMethod(countingModuleID, 602, "again")
	methodWait  = drpc.NewMethod(countingModuleID, 603, "block")
)

func newCountingModule() *countingModule {
	return &countingModule{release: make(chan struct{}), runs: make(map[string]int)}
}

func (m *countingModule) ID() drpc.ModuleID { return countingModuleID }

func (m *countingModule) String() string { return "counting" }

func (m *countingModule) Methods() []drpc.Method {
	return []drpc.Method{methodOnce, methodAgain, methodWait}
}

func (m *countingModule) GetMethod(id drpc.MethodID) (drpc.Method, error) {
	for _, meth := range m.Methods() {
		if meth.ID() == id {
			return meth, nil
		}
	}
	return nil, drpc.NewFailure(drpc.StatusUnknownMethod, "")
}

func (m *countingModule) HandleCall(ctx context.Context, _ *drpc.Session, meth drpc.Method, body []byte) ([]byte, error) {
	n := m.running.Add(1)
	defer m.running.Add(-1)
	raise(&m.maxRunning, n)
	if srv := m.server.Load(); srv != nil {
		raise(&m.maxSessions, int32(srv.NumSessions()))
	}
	m.mu.Lock()
	m.runs[meth.String()+"/"+string(body)]++
	m.mu.Unlock()
	if meth.ID() == methodWait.ID() {
		select {
		case <-m.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return body, nil
}

// ran returns how often method meth ran with body.
func (m *countingModule) ran(meth drpc.Method, body []byte) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.runs[meth.String()+"/"+string(body)]
}

func raise(v *atomic.Int32, n int32) {
	for {
		old := v.Load()
		if n <= old || v.CompareAndSwap(old, n) {
			return
		}
	}
}

// startCounting starts a server for mod at path, whose Shutdown the caller
// owns (and the test's end makes sure of).
func startCounting(t *testing.T, path string, mod *countingModule, opts ...drpc.ServerOption) *drpc.DomainSocketServer {
	t.Helper()
	srv, err := drpc.NewDomainSocketServer(path, append([]drpc.ServerOption{drpc.WithLogger(slog.New(slog.DiscardHandler))}, opts...)...)
	require.NoError(t, err)
	require.NoError(t, srv.RegisterRPCModule(mod))
	require.NoError(t, srv.Start(context.Background()))
	mod.server.Store(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return srv
}

// newPool returns a pool for path, closed when the test ends.
func newPool(t *testing.T, path string, po drpc.PoolOptions, opts ...drpc.ClientOption) *drpc.Pool {
	t.Helper()
	p := drpc.NewPool(path, po, opts...)
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// callKind is one way of making a call through a pool.
type callKind struct {
	name       string
	method     drpc.Method
	idempotent bool
	call       func(ctx context.Context, p *drpc.Pool, body []byte) error
}

// invokeKind calls m with Invoke, as generated clients do; the body is an
// EchoRequest, which the module echoes as an EchoResponse.
func invokeKind(m drpc.Method, idempotent bool) callKind {
	return callKind{name: "Invoke " + m.String(), method: m, idempotent: idempotent,
		call: func(ctx context.Context, p *drpc.Pool, payload []byte) error {
			var reply testv1.EchoResponse
			if err := drpc.Invoke(ctx, p, m, &testv1.EchoRequest{Payload: payload}, &reply); err != nil {
				return err
			}
			if string(reply.Payload) != string(payload) {
				return fmt.Errorf("echo %q of %q", reply.Payload, payload)
			}
			return nil
		}}
}

var callKinds = []callKind{
	invokeKind(methodOnce, false),
	invokeKind(methodAgain, true),
	{name: "SendMsg once", method: methodOnce, call: func(ctx context.Context, p *drpc.Pool, payload []byte) error {
		body := echoRequestBody(payload)
		resp, err := p.SendMsg(ctx, &drpc.Call{Module: int32(countingModuleID), Method: int32(methodOnce.ID()), Body: body})
		if err != nil {
			return err
		}
		if err := drpc.FailureFromResponse(resp); err != nil {
			return err
		}
		if string(resp.Body) != string(body) {
			return fmt.Errorf("echo %q of %q", resp.Body, body)
		}
		return nil
	}},
	{name: "SendMsgFunc once", method: methodOnce, call: func(ctx context.Context, p *drpc.Pool, payload []byte) error {
		body := echoRequestBody(payload)
		return p.SendMsgFunc(ctx, &drpc.Call{Module: int32(countingModuleID), Method: int32(methodOnce.ID()), Body: body}, func(st drpc.Status, got []byte) error {
			if st != drpc.StatusSuccess || string(got) != string(body) {
				return fmt.Errorf("status %v, echo %q of %q", st, got, body)
			}
			return nil
		})
	}},
}

// echoRequestBody is an EchoRequest with payload, encoded: what Invoke
// sends, so that every kind of call counts under the same body.
func echoRequestBody(payload []byte) []byte {
	return append([]byte{0x0a, byte(len(payload))}, payload...)
}

// TestPoolServerRestartsUnderLoad: 64 goroutines share a pool of 8 while
// the server is restarted twice on the same path, once gracefully and once
// cut off. No call runs twice unless its method is idempotent: each call
// either succeeded having run once, or failed with ErrOutcomeUnknown
// having run at most once; idempotent calls all succeed. The server never
// sees more than 8 sessions, and nothing leaks.
func TestPoolServerRestartsUnderLoad(t *testing.T) {
	const (
		goroutines = 64
		size       = 8
		callsEach  = 100
	)
	path := socketPath(t)
	mod := newCountingModule()
	noLeaks(t, func() {
		srv := startCounting(t, path, mod)
		pool := drpc.NewPool(path, drpc.PoolOptions{Size: size, RetryTimeout: hangGuard})

		type outcome struct {
			kind    callKind
			payload []byte
			err     error
		}
		var done atomic.Int32
		restartAt := []int32{goroutines * callsEach / 3, goroutines * callsEach * 2 / 3}
		reached := []chan struct{}{make(chan struct{}), make(chan struct{})}
		outcomes := make(chan outcome, goroutines*callsEach)
		var wg sync.WaitGroup
		for g := range goroutines {
			kind := callKinds[g%len(callKinds)]
			wg.Go(func() {
				for i := range callsEach {
					payload := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, uint32(g)), uint32(i))
					ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
					err := kind.call(ctx, pool, payload)
					cancel()
					outcomes <- outcome{kind, payload, err}
					n := done.Add(1)
					for j, at := range restartAt {
						if n == at {
							close(reached[j])
						}
					}
				}
			})
		}

		// A graceful restart: calls in flight are answered, the sessions
		// are closed, a new server listens on the same path.
		receive(t, reached[0], "a third of the calls")
		require.NoError(t, srv.Shutdown(context.Background()))
		srv = startCounting(t, path, mod)
		// A cut-off: the server stops without waiting for its calls.
		receive(t, reached[1], "two thirds of the calls")
		ended, cancel := context.WithCancel(context.Background())
		cancel()
		_ = srv.Shutdown(ended)
		srv = startCounting(t, path, mod)

		wg.Wait()
		close(outcomes)
		var ok, unknown int
		for o := range outcomes {
			body := echoRequestBody(o.payload)
			runs := mod.ran(o.kind.method, body)
			switch {
			case o.err == nil && o.kind.idempotent:
				ok++
				assert.Positive(t, runs, "%s %x succeeded without running", o.kind.name, o.payload)
			case o.err == nil:
				ok++
				assert.Equal(t, 1, runs, "%s %x succeeded and ran %d times", o.kind.name, o.payload, runs)
			case o.kind.idempotent:
				t.Errorf("%s %x failed: %v", o.kind.name, o.payload, o.err)
			case errors.Is(o.err, drpc.ErrOutcomeUnknown):
				unknown++
				assert.LessOrEqual(t, runs, 1, "%s %x ran %d times", o.kind.name, o.payload, runs)
				assert.NotErrorIs(t, o.err, drpc.ErrNotSent)
			default:
				t.Errorf("%s %x failed with neither success nor an unknown outcome: %v", o.kind.name, o.payload, o.err)
			}
		}
		t.Logf("%d calls succeeded, %d ended with an unknown outcome", ok, unknown)
		assert.Equal(t, goroutines*callsEach, ok+unknown)
		assert.LessOrEqual(t, mod.maxSessions.Load(), int32(size), "the server never has more sessions than the pool's size")

		require.NoError(t, pool.Close())
		require.NoError(t, srv.Shutdown(context.Background()))
	})
}

// TestPoolSizeBound: 16 goroutines share a pool of 3: at most 3 calls run
// at once, on at most 3 sessions, and every call is made.
func TestPoolSizeBound(t *testing.T) {
	const size, callers = 3, 16
	mod := newCountingModule()
	path := socketPath(t)
	srv := startCounting(t, path, mod)
	pool := newPool(t, path, drpc.PoolOptions{Size: size})
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()

	errs := make(chan error, callers)
	for i := range callers {
		go func() {
			errs <- pool.SendMsgFunc(ctx, &drpc.Call{Module: int32(countingModuleID), Method: int32(methodWait.ID()), Body: []byte{byte(i)}},
				func(drpc.Status, []byte) error { return nil })
		}()
	}
	eventually(t, func() bool { return mod.running.Load() == size }, "the pool should run %d calls at once", size)
	assert.Equal(t, size, srv.NumSessions())
	close(mod.release)
	for range callers {
		require.NoError(t, receive(t, errs, "a call"))
	}
	assert.Equal(t, int32(size), mod.maxRunning.Load())
	assert.LessOrEqual(t, mod.maxSessions.Load(), int32(size))
	assert.Equal(t, size, srv.NumSessions(), "the sessions stay open for the next calls")
}

// TestPoolClosesIdleSessions: sessions unused for the pool's idle timeout
// are closed; the next call opens one again.
func TestPoolClosesIdleSessions(t *testing.T) {
	srv, _ := startServer(t)
	pool := newPool(t, srv.SocketPath(), drpc.PoolOptions{Size: 4, IdleTimeout: 20 * time.Millisecond})
	ctx := context.Background()
	for range 3 {
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				_, err := pool.SendMsg(ctx, &drpc.Call{Method: int32(methodEcho), Body: []byte("x")})
				assert.NoError(t, err)
			})
		}
		wg.Wait()
		assert.Positive(t, srv.NumSessions())
		sessionsDropTo(t, srv, 0)
	}
	resp, err := pool.SendMsg(ctx, &drpc.Call{Method: int32(methodEcho), Body: []byte("again")})
	require.NoError(t, err)
	assert.Equal(t, "again", string(resp.Body))
}

// TestPoolRedialsAfterServerIdleTimeout: a server whose idle timeout is
// shorter than the pool's closes the pool's sessions; the next calls go
// through on new sessions without an error.
func TestPoolRedialsAfterServerIdleTimeout(t *testing.T) {
	srv, _ := startServer(t, drpc.WithLimits(drpc.Limits{IdleTimeout: 10 * time.Millisecond}))
	pool := newPool(t, srv.SocketPath(), drpc.PoolOptions{Size: 4, IdleTimeout: -1})
	ctx := context.Background()
	for round := range 5 {
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				body := fmt.Appendf(nil, "%d/%d", round, i)
				resp, err := pool.SendMsg(ctx, &drpc.Call{Method: int32(methodEcho), Body: body})
				if assert.NoError(t, err, "round %d", round) {
					assert.Equal(t, string(body), string(resp.Body))
				}
			})
		}
		wg.Wait()
		sessionsDropTo(t, srv, 0) // the server closed them all
	}
}

// TestPoolClose: Close ends the calls in flight and those waiting for a
// session with ErrConnectionClosed, and every later call; a second Close
// does nothing.
func TestPoolClose(t *testing.T) {
	mod := newCountingModule()
	path := socketPath(t)
	startCounting(t, path, mod)
	noLeaks(t, func() {
		pool := drpc.NewPool(path, drpc.PoolOptions{Size: 2})
		errs := make(chan error, 5)
		for i := range 5 {
			go func() {
				_, err := pool.SendMsg(context.Background(), &drpc.Call{Module: int32(countingModuleID), Method: int32(methodWait.ID()), Body: []byte{byte(i)}})
				errs <- err
			}()
		}
		eventually(t, func() bool { return mod.running.Load() == 2 }, "two calls should run")
		require.NoError(t, pool.Close())
		var inFlight, waiting int
		for range 5 {
			err := receive(t, errs, "a call ended by Close")
			require.ErrorIs(t, err, drpc.ErrConnectionClosed)
			switch {
			case errors.Is(err, drpc.ErrOutcomeUnknown):
				inFlight++
			case errors.Is(err, drpc.ErrNotSent):
				waiting++
			default:
				t.Errorf("neither sent nor unsent: %v", err)
			}
		}
		assert.Equal(t, 2, inFlight, "the calls in flight were sent")
		assert.Equal(t, 3, waiting, "the calls waiting for a session were not")

		_, err := pool.SendMsg(context.Background(), &drpc.Call{Module: int32(countingModuleID), Method: int32(methodOnce.ID())})
		require.ErrorIs(t, err, drpc.ErrConnectionClosed)
		require.ErrorIs(t, err, drpc.ErrNotSent)
		require.NoError(t, pool.Close())
		eventually(t, func() bool { return mod.running.Load() == 0 }, "the server's handlers end when their client hangs up")
	})
}

// TestPoolContext: a call's context ends it whether it runs, waits for a
// session or waits for the server; the pool goes on serving.
func TestPoolContext(t *testing.T) {
	mod := newCountingModule()
	path := socketPath(t)
	startCounting(t, path, mod)
	pool := newPool(t, path, drpc.PoolOptions{Size: 1})
	wait := &drpc.Call{Module: int32(countingModuleID), Method: int32(methodWait.ID())}

	// A call in flight: sent, so its outcome is unknown.
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 1)
	go func() {
		_, err := pool.SendMsg(ctx, wait)
		errs <- err
	}()
	eventually(t, func() bool { return mod.running.Load() == 1 }, "the call should run")

	// A call waiting for the only session: not sent.
	short, cancelShort := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancelShort()
	_, err := pool.SendMsg(short, &drpc.Call{Module: int32(countingModuleID), Method: int32(methodOnce.ID())})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorIs(t, err, drpc.ErrNotSent)

	cancel()
	err = receive(t, errs, "the cancelled call")
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, err, drpc.ErrOutcomeUnknown)

	// The pool replaces the session the cancellation closed.
	require.NoError(t, invokeKind(methodOnce, false).call(context.Background(), pool, []byte("after")))
}

// TestPoolWaitersGiveUp: calls that give up while they wait for a session
// (some just as one is handed to them) lose nothing: the sessions and the
// room they were given pass on, and the pool serves as before.
func TestPoolWaitersGiveUp(t *testing.T) {
	const size = 2
	srv, _ := startServer(t)
	noLeaks(t, func() {
		pool := drpc.NewPool(srv.SocketPath(), drpc.PoolOptions{Size: size})
		var wg sync.WaitGroup
		var gaveUp, answered atomic.Int32
		for g := range 32 {
			wg.Go(func() {
				for i := range 30 {
					ctx, cancel := context.WithTimeout(context.Background(), time.Duration((g*31+i*7)%40)*50*time.Microsecond)
					_, err := pool.SendMsg(ctx, &drpc.Call{Method: int32(methodEcho), Body: []byte{byte(g), byte(i)}})
					cancel()
					if err != nil {
						assert.ErrorIs(t, err, context.DeadlineExceeded)
						gaveUp.Add(1)
					} else {
						answered.Add(1)
					}
				}
			})
		}
		wg.Wait()
		t.Logf("%d calls answered, %d gave up", answered.Load(), gaveUp.Load())
		// The sessions of calls cut off in flight were closed; the server
		// sees them go a little later.
		eventually(t, func() bool { return srv.NumSessions() <= size }, "at most %d sessions", size)

		// Every session and all the room are there: size calls at once
		// each get a session, and then some.
		ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
		defer cancel()
		for range 3 {
			var calls sync.WaitGroup
			for range 8 {
				calls.Go(func() {
					_, err := pool.SendMsg(ctx, &drpc.Call{Method: int32(methodEcho), Body: []byte("after")})
					assert.NoError(t, err)
				})
			}
			calls.Wait()
		}
		require.NoError(t, pool.Close())
		sessionsDropTo(t, srv, 0)
	})
}

// TestPoolServerGone: a server that is not there is retried with a backoff
// (no spinning) until the call's context or the retry timeout ends it; the
// error says the call was not sent and why.
func TestPoolServerGone(t *testing.T) {
	t.Run("no socket, context deadline", func(t *testing.T) {
		pool := newPool(t, socketPath(t), drpc.PoolOptions{RetryTimeout: -1})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := pool.SendMsg(ctx, &drpc.Call{Method: int32(methodEcho)})
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.ErrorIs(t, err, drpc.ErrNotSent)
		require.ErrorIs(t, err, syscall.ENOENT)
		assert.Contains(t, err.Error(), "gave up after")
	})
	t.Run("no socket, retry timeout", func(t *testing.T) {
		pool := newPool(t, socketPath(t), drpc.PoolOptions{RetryTimeout: 50 * time.Millisecond})
		_, err := pool.SendMsg(context.Background(), &drpc.Call{Method: int32(methodEcho)})
		require.ErrorIs(t, err, drpc.ErrNotSent)
		require.ErrorIs(t, err, syscall.ENOENT)
		assert.Contains(t, err.Error(), "RetryTimeout")
	})
	t.Run("not a socket: no retry", func(t *testing.T) {
		pool := newPool(t, "/dev/null/x.sock", drpc.PoolOptions{})
		_, err := pool.SendMsg(context.Background(), &drpc.Call{Method: int32(methodEcho)})
		require.ErrorIs(t, err, drpc.ErrNotSent)
		require.ErrorIs(t, err, syscall.ENOTDIR)
		assert.NotContains(t, err.Error(), "tries")
	})
	t.Run("sessions closed at once: backoff", func(t *testing.T) {
		// A socket that accepts and closes every connection: each try is
		// a fresh session that breaks, before the call is sent or after
		// (the method is idempotent, so both are tried again).
		path := socketPath(t)
		ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
		require.NoError(t, err)
		var accepted atomic.Int32
		var wg sync.WaitGroup
		defer wg.Wait()
		defer ln.Close()
		wg.Go(func() {
			for {
				c, err := ln.AcceptUnix()
				if err != nil {
					return
				}
				accepted.Add(1)
				_ = c.Close()
			}
		})
		pool := newPool(t, path, drpc.PoolOptions{RetryTimeout: 200 * time.Millisecond})
		err = invokeKind(methodAgain, true).call(context.Background(), pool, []byte("x"))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "RetryTimeout")
		// Doubling from 2 ms, 200 ms hold about 8 tries; a pool that spun
		// would make thousands.
		assert.Less(t, accepted.Load(), int32(40), "tries in 200 ms")
		t.Logf("%d tries in 200 ms: %v", accepted.Load(), err)
	})
}

// lostAnswerServer is a server whose first answer to each call is lost:
// it closes the connection once it has read the call, and answers the
// same call the next time it comes. It counts the calls it read.
func lostAnswerServer(t *testing.T) (path string, reads *atomic.Int32) {
	reads = new(atomic.Int32)
	var mu sync.Mutex
	seen := map[string]bool{}
	answer := answerWith(func(call *drpc.Call) *drpc.Response {
		return &drpc.Response{Sequence: call.Sequence, Body: call.Body}
	})
	path = fakeServer(t, func(c *net.UnixConn, call *drpc.Call) {
		reads.Add(1)
		key := fmt.Sprintf("%d/%x", call.Method, call.Body)
		mu.Lock()
		again := seen[key]
		seen[key] = true
		mu.Unlock()
		if !again {
			_ = c.Close()
			return
		}
		answer(c, call)
	})
	return path, reads
}

// TestPoolResendsOnlyIdempotentMethods: a call whose answer is lost is sent
// again only if its Method says it is idempotent, which only Invoke tells
// the pool; otherwise the error says that its outcome is unknown.
func TestPoolResendsOnlyIdempotentMethods(t *testing.T) {
	tests := []struct {
		kind  callKind
		reads int32
	}{
		{invokeKind(methodAgain, true), 2},
		{invokeKind(methodOnce, false), 1},
		{callKinds[2], 1}, // SendMsg
		{callKinds[3], 1}, // SendMsgFunc
	}
	for _, tc := range tests {
		t.Run(tc.kind.name, func(t *testing.T) {
			path, reads := lostAnswerServer(t)
			pool := newPool(t, path, drpc.PoolOptions{})
			ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
			defer cancel()
			err := tc.kind.call(ctx, pool, []byte("x"))
			assert.Equal(t, tc.reads, reads.Load(), "calls the server read")
			if tc.kind.idempotent {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, drpc.ErrOutcomeUnknown)
			assert.NotErrorIs(t, err, drpc.ErrNotSent)
			assert.Contains(t, err.Error(), "not sent again")
		})
	}
}

// TestPoolResendsCallsRefusedAtShutdown: a call the server refuses because
// it shuts down did not run, and is sent again; a handler's failure that
// says the same words is not a refusal.
func TestPoolResendsCallsRefusedAtShutdown(t *testing.T) {
	var calls atomic.Int32
	path := fakeServer(t, answerWith(func(call *drpc.Call) *drpc.Response {
		if calls.Add(1) == 1 {
			return &drpc.Response{Sequence: call.Sequence, Status: drpc.StatusFailure, Body: []byte("dRPC server is shutting down")}
		}
		return &drpc.Response{Sequence: call.Sequence, Body: call.Body}
	}))
	pool := newPool(t, path, drpc.PoolOptions{})
	resp, err := pool.SendMsg(context.Background(), &drpc.Call{Method: 1, Body: []byte("hi")})
	require.NoError(t, err)
	assert.Equal(t, "hi", string(resp.Body))
	assert.EqualValues(t, 2, calls.Load())

	srv, _ := startServer(t)
	require.NoError(t, srv.RegisterRPCModule(shuttingDownHandler{}))
	pool = newPool(t, srv.SocketPath(), drpc.PoolOptions{})
	resp, err = pool.SendMsg(context.Background(), &drpc.Call{Module: 7, Method: 701})
	require.NoError(t, err)
	require.Equal(t, drpc.StatusFailure, resp.Status)
	assert.Equal(t, "dRPC server is shutting down (said by the handler)", string(resp.Body))
}

// shuttingDownHandler is module 7, whose method 701 fails with the words of
// a server's refusal at shutdown.
type shuttingDownHandler struct{}

func (shuttingDownHandler) ID() drpc.ModuleID { return 7 }
func (shuttingDownHandler) String() string    { return "liar" }
func (shuttingDownHandler) GetMethod(id drpc.MethodID) (drpc.Method, error) {
	return drpc.NewMethod(7, id, "lie"), nil
}
func (shuttingDownHandler) HandleCall(context.Context, *drpc.Session, drpc.Method, []byte) ([]byte, error) {
	return nil, drpc.NewFailure(drpc.StatusFailure, "dRPC server is shutting down")
}

// TestPoolClientOptions: the client options apply to every session: the
// interceptors see every try, the message size limit holds.
func TestPoolClientOptions(t *testing.T) {
	srv, _ := startServer(t)
	var seen atomic.Int32
	count := func(ctx context.Context, call *drpc.Call, next drpc.Sender) (*drpc.Response, error) {
		seen.Add(1)
		return next.SendMsg(ctx, call)
	}
	pool := newPool(t, srv.SocketPath(), drpc.PoolOptions{Size: 2}, drpc.WithClientInterceptor(count), drpc.WithMaxMessageSize(1024))
	ctx := context.Background()
	resp, err := pool.SendMsg(ctx, &drpc.Call{Method: int32(methodEcho), Body: []byte("small")})
	require.NoError(t, err)
	assert.Equal(t, "small", string(resp.Body))
	var lent string
	require.NoError(t, pool.SendMsgFunc(ctx, &drpc.Call{Method: int32(methodEcho), Body: []byte("lent")}, func(_ drpc.Status, body []byte) error {
		lent = string(body)
		return nil
	}))
	assert.Equal(t, "lent", lent)
	assert.EqualValues(t, 2, seen.Load())

	_, err = pool.SendMsg(ctx, &drpc.Call{Method: int32(methodEcho), Body: make([]byte, 2048)})
	require.ErrorIs(t, err, drpc.ErrMessageTooLarge)
	assert.EqualValues(t, 3, seen.Load(), "a reply too large is not tried again")
}

// TestPoolInterceptorNotSent: an interceptor that refuses calls with an
// error that says they were not sent, without touching the session, is
// tried again with a backoff, not in a spin, until RetryTimeout.
func TestPoolInterceptorNotSent(t *testing.T) {
	srv, _ := startServer(t)
	var tries atomic.Int32
	refuse := func(context.Context, *drpc.Call, drpc.Sender) (*drpc.Response, error) {
		tries.Add(1)
		return nil, fmt.Errorf("rate limited: %w", drpc.ErrNotSent)
	}
	pool := newPool(t, srv.SocketPath(), drpc.PoolOptions{RetryTimeout: 100 * time.Millisecond}, drpc.WithClientInterceptor(refuse))
	_, err := pool.SendMsg(context.Background(), &drpc.Call{Method: int32(methodEcho)})
	require.ErrorIs(t, err, drpc.ErrNotSent)
	assert.Contains(t, err.Error(), "rate limited")
	assert.Less(t, tries.Load(), int32(30), "tries in 100 ms")
	assert.Equal(t, 1, srv.NumSessions(), "the session was kept")
}

// TestPoolSendMsgFuncAllocatesNothing: a pooled call that lends its reply
// allocates nothing on the client, as on a ClientConnection.
func TestPoolSendMsgFuncAllocatesNothing(t *testing.T) {
	srv, _ := startServer(t)
	pool := newPool(t, srv.SocketPath(), drpc.PoolOptions{Size: 1})
	ctx := context.Background()
	call := &drpc.Call{Method: int32(methodEcho), Body: make([]byte, 4096)}
	var n int
	fn := func(_ drpc.Status, body []byte) error {
		n = len(body)
		return nil
	}
	require.NoError(t, pool.SendMsgFunc(ctx, call, fn)) // dial, warm up
	allocs := testing.AllocsPerRun(100, func() {
		if err := pool.SendMsgFunc(ctx, call, fn); err != nil {
			t.Fatal(err)
		}
	})
	assert.Equal(t, 4096, n)
	assert.Zero(t, allocs)
}

// TestPoolInvokeAllocatesAsAConnection: a generated client's call through
// a pool allocates what it does through a ClientConnection.
func TestPoolInvokeAllocatesAsAConnection(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop buffers on purpose; run without -race")
	}
	srv, _ := startServer(t)
	pool := newPool(t, srv.SocketPath(), drpc.PoolOptions{Size: 1})
	conn := connect(t, srv)
	ctx := context.Background()
	req := &testv1.EchoRequest{Payload: make([]byte, 64)}
	m := drpc.NewIdempotentMethod(0, methodEcho, "echo")
	measure := func(s drpc.Sender) float64 {
		var reply testv1.EchoResponse
		for range 5 {
			require.NoError(t, drpc.Invoke(ctx, s, m, req, &reply))
		}
		return testing.AllocsPerRun(200, func() {
			reply.Reset()
			if err := drpc.Invoke(ctx, s, m, req, &reply); err != nil {
				t.Fatal(err)
			}
		})
	}
	onConn, onPool := measure(conn), measure(pool)
	assert.Equal(t, onConn, onPool, "allocations per call")
	t.Logf("%.0f allocations per call on a connection and through a pool", onPool)
}
