package drpc_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/drpc"
)

// shutdownAsync runs Shutdown in the background.
func shutdownAsync(ctx context.Context, srv *drpc.DomainSocketServer) <-chan error {
	out := make(chan error, 1)
	go func() { out <- srv.Shutdown(ctx) }()
	return out
}

// assertGone checks that nothing listens at path any more and the socket
// file is gone.
func assertGone(t *testing.T, path string) {
	t.Helper()
	_, err := os.Lstat(path)
	assert.ErrorIs(t, err, os.ErrNotExist, "the socket file should be removed")
	c := drpc.NewClientConnection(path)
	err = c.Connect(context.Background())
	assert.Error(t, err, "new connections should be refused")
	assert.Contains(t, err.Error(), path)
}

func TestShutdownWaitsForCallsInFlight(t *testing.T) {
	srv, mod := startServer(t)
	busy := connect(t, srv)
	idle := connect(t, srv)
	echo(t, idle, "idle from now on")
	midMessage := dialPacket(t, srv.SocketPath())
	require.NoError(t, writePackets(midMessage, messagePackets(make([]byte, threeChunks))[0]))
	sessionsDropTo(t, srv, 3)
	inFlight := blockingCall(t, busy, mod)

	done := shutdownAsync(context.Background(), srv)

	// Idle sessions, and one stuck mid-message, are closed at once; the
	// busy one stays, and the server takes no new connections.
	sessionsDropTo(t, srv, 1)
	waitClosed(t, midMessage)
	_, err := idle.SendMsg(context.Background(), &drpc.Call{Method: int32(methodEcho)})
	assert.Error(t, err, "the idle session should be closed")
	assertGone(t, srv.SocketPath())
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v while a call was in flight", err)
	default:
	}

	close(mod.block)
	res := receive(t, inFlight, "the call in flight")
	require.NoError(t, res.err, "the call in flight gets its answer")
	assert.Equal(t, drpc.StatusSuccess, res.resp.Status)
	assert.Equal(t, "done", string(res.resp.Body))
	assert.NoError(t, receive(t, done, "Shutdown"))
	assert.Equal(t, 0, srv.NumSessions())
	assert.Equal(t, int32(0), mod.ctxEnded.Load(), "a call that finished in time is not cancelled")

	_, err = busy.SendMsg(context.Background(), &drpc.Call{Method: int32(methodEcho)})
	assert.Error(t, err, "the session ends after its call")
}

func TestShutdownDeadline(t *testing.T) {
	srv, mod := startServer(t)
	c := connect(t, srv)
	inFlight := blockingCall(t, c, mod)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := srv.Shutdown(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorIs(t, err, drpc.ErrShutdownInterrupted)
	assert.Contains(t, err.Error(), "1 call(s) cut off")
	assert.NotContains(t, err.Error(), "still running", "the handler returned once its context ended")

	eventually(t, func() bool { return mod.ctxEnded.Load() == 1 }, "the handler's context should be cancelled")
	res := receive(t, inFlight, "the cut-off call")
	assert.Error(t, res.err, "the call cut off gets no answer")
	assert.False(t, c.IsConnected())
	sessionsDropTo(t, srv, 0)
	assertGone(t, srv.SocketPath())

	again := srv.Shutdown(context.Background())
	assert.Equal(t, err, again, "a second Shutdown returns the first one's result")
}

func TestShutdownCancelled(t *testing.T) {
	srv, mod := startServer(t)
	c := connect(t, srv)
	inFlight := blockingCall(t, c, mod)
	ctx, cancel := context.WithCancel(context.Background())
	done := shutdownAsync(ctx, srv)
	sessionsDropTo(t, srv, 1)
	cancel()
	assert.ErrorIs(t, receive(t, done, "Shutdown"), context.Canceled)
	eventually(t, func() bool { return mod.ctxEnded.Load() == 1 })
	assert.Error(t, receive(t, inFlight, "the cut-off call").err)
}

func TestShutdownIdle(t *testing.T) {
	srv, _ := startServer(t)
	clients := make([]*drpc.ClientConnection, 5)
	for i := range clients {
		clients[i] = connect(t, srv)
		echo(t, clients[i], "hello")
	}
	require.NoError(t, srv.Shutdown(context.Background()))
	assert.Equal(t, 0, srv.NumSessions())
	for _, c := range clients {
		_, err := c.SendMsg(context.Background(), &drpc.Call{Method: int32(methodEcho)})
		assert.Error(t, err)
	}
	assertGone(t, srv.SocketPath())
	assert.NoError(t, srv.Shutdown(context.Background()), "a second Shutdown returns the first one's result")
}

func TestShutdownConcurrently(t *testing.T) {
	srv, mod := startServer(t)
	c := connect(t, srv)
	inFlight := blockingCall(t, c, mod)
	var results [4]<-chan error
	for i := range results {
		results[i] = shutdownAsync(context.Background(), srv)
	}
	sessionsDropTo(t, srv, 1)
	close(mod.block)
	require.NoError(t, receive(t, inFlight, "the call in flight").err)
	for _, r := range results {
		assert.NoError(t, receive(t, r, "Shutdown"))
	}
}

func TestServerLifecycle(t *testing.T) {
	fresh := func(t *testing.T) *drpc.DomainSocketServer { return newServer(t, socketPath(t), 0o600) }
	t.Run("Start twice", func(t *testing.T) {
		srv := fresh(t)
		require.NoError(t, srv.Start(context.Background()))
		assert.ErrorIs(t, srv.Start(context.Background()), drpc.ErrServerStarted)
		serverWorks(t, srv)
	})
	t.Run("Start after Shutdown", func(t *testing.T) {
		srv := fresh(t)
		require.NoError(t, srv.Start(context.Background()))
		require.NoError(t, srv.Shutdown(context.Background()))
		err := srv.Start(context.Background())
		require.ErrorIs(t, err, drpc.ErrServerClosed)
		assert.Contains(t, err.Error(), "create a new server")
		_, statErr := os.Lstat(srv.SocketPath())
		assert.ErrorIs(t, statErr, os.ErrNotExist)
	})
	t.Run("Shutdown before Start", func(t *testing.T) {
		srv := fresh(t)
		require.NoError(t, srv.Shutdown(context.Background()))
		assert.ErrorIs(t, srv.Start(context.Background()), drpc.ErrServerClosed)
		assert.NoError(t, srv.Shutdown(context.Background()))
	})
	t.Run("Start with an ended context", func(t *testing.T) {
		srv := fresh(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		assert.ErrorIs(t, srv.Start(ctx), context.Canceled)
		_, err := os.Lstat(srv.SocketPath())
		assert.ErrorIs(t, err, os.ErrNotExist)
	})
}

func TestShutdownSparesNewerServersSocket(t *testing.T) {
	first, _ := startServer(t)
	path := first.SocketPath()
	require.NoError(t, os.Remove(path)) // by hand, or by a tool

	second, err := drpc.NewDomainSocketServer(path)
	require.NoError(t, err)
	require.NoError(t, second.RegisterRPCModule(&echoModule{block: make(chan struct{})}))
	require.NoError(t, second.Start(context.Background()))
	defer second.Shutdown(context.Background())

	require.NoError(t, first.Shutdown(context.Background()))
	_, err = os.Lstat(path)
	require.NoError(t, err, "the first server must not remove the second one's socket")
	serverWorks(t, second)

	require.NoError(t, second.Shutdown(context.Background()))
	_, err = os.Lstat(path)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestShutdownWhileClientsConnect(t *testing.T) {
	// Connections racing with Shutdown either get served or get refused;
	// none is left behind.
	srv, _ := startServer(t)
	var wg sync.WaitGroup
	var served atomic.Int32
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				c := drpc.NewClientConnection(srv.SocketPath())
				if c.Connect(context.Background()) == nil {
					if _, err := c.SendMsg(context.Background(), &drpc.Call{Method: int32(methodEcho)}); err == nil {
						served.Add(1)
					}
					_ = c.Close()
				}
			}
		})
	}
	eventually(t, func() bool { return served.Load() > 20 }, "the clients should be served")
	require.NoError(t, srv.Shutdown(context.Background()))
	close(stop)
	wg.Wait()
	assert.Equal(t, 0, srv.NumSessions())
	assertGone(t, srv.SocketPath())
}

// stubborn is module 9: method 901 blocks until released, ignoring its
// context.
type stubborn struct {
	started chan struct{}
	release chan struct{}
}

var methodStubborn = drpc.NewMethod(9, 901, "stubborn")

func (stubborn) ID() drpc.ModuleID { return 9 }

func (stubborn) String() string { return "stubborn" }

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

// serve runs srv.Serve(ctx) in a goroutine, once srv is started, and
// returns where its result arrives.
func serve(t *testing.T, srv *drpc.DomainSocketServer, ctx context.Context) <-chan error {
	t.Helper()
	require.NoError(t, srv.Start(ctx))
	out := make(chan error, 1)
	go func() { out <- srv.Serve(ctx) }()
	return out
}

func TestStartContextBoundsTheStartOnly(t *testing.T) {
	// The end of Start's context does not stop the server: it serves until
	// Shutdown, and a started context is refused.
	srv, err := drpc.NewDomainSocketServer(socketPath(t))
	require.NoError(t, err)
	require.NoError(t, srv.RegisterRPCModule(&echoModule{block: make(chan struct{})}))
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, srv.Start(ctx))
	cancel()
	serverWorks(t, srv)
	require.NoError(t, srv.Shutdown(context.Background()))

	ended, err := drpc.NewDomainSocketServer(socketPath(t))
	require.NoError(t, err)
	assert.ErrorIs(t, ended.Start(ctx), context.Canceled)
}

func TestServeStopsWhenItsContextEnds(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		srv, err := drpc.NewDomainSocketServer(socketPath(t))
		require.NoError(t, err)
		require.NoError(t, srv.RegisterRPCModule(&echoModule{block: make(chan struct{})}))
		ctx, cancel := context.WithCancel(context.Background())
		served := serve(t, srv, ctx)
		c := connect(t, srv)
		echo(t, c, "before")

		cancel()
		assert.NoError(t, receive(t, served, "Serve's return"), "an idle server stops cleanly")
		assert.Zero(t, srv.NumSessions())
		assertGone(t, srv.SocketPath())
		assert.ErrorIs(t, srv.Start(context.Background()), drpc.ErrServerClosed)
		assert.NoError(t, srv.Shutdown(context.Background()), "Shutdown after Serve returns its result")
	})
	t.Run("with a call in flight", func(t *testing.T) {
		srv, err := drpc.NewDomainSocketServer(socketPath(t))
		require.NoError(t, err)
		mod := &echoModule{block: make(chan struct{})}
		require.NoError(t, srv.RegisterRPCModule(mod))
		ctx, cancel := context.WithCancel(context.Background())
		served := serve(t, srv, ctx)
		busy := connect(t, srv)
		idle := connect(t, srv)
		echo(t, idle, "idle")
		inFlight := blockingCall(t, busy, mod)

		cancel() // stops at once, cutting the call off
		err = receive(t, served, "Serve's return")
		require.ErrorIs(t, err, drpc.ErrShutdownInterrupted)
		require.ErrorIs(t, err, context.Canceled)
		assert.Contains(t, err.Error(), "1 call(s) cut off", "only the session with a call in flight counts")
		assert.Error(t, receive(t, inFlight, "the cut-off call").err)
		assert.EqualValues(t, 1, mod.ctxEnded.Load(), "the handler's context was cancelled")
		assert.Equal(t, err, srv.Shutdown(context.Background()), "Shutdown reports the stop that Serve's context caused")
	})
	t.Run("after a Shutdown", func(t *testing.T) {
		srv, err := drpc.NewDomainSocketServer(socketPath(t))
		require.NoError(t, err)
		require.NoError(t, srv.RegisterRPCModule(&echoModule{block: make(chan struct{})}))
		require.NoError(t, srv.Start(context.Background()))
		served := make(chan error, 1)
		go func() { served <- srv.Serve(context.Background()) }()
		require.NoError(t, srv.Shutdown(context.Background()))
		assert.ErrorIs(t, receive(t, served, "Serve's return"), drpc.ErrServerClosed)
	})
}

func TestShutdownRefusesCallsNotYetRun(t *testing.T) {
	// A client that sent a second call while its first runs (a raw
	// client can) gets the first answered and the second refused with
	// the reason, then the end of the connection: no call is lost without
	// an answer.
	srv, mod := startServer(t)
	c := dialPacket(t, srv.SocketPath())
	first := marshalCall(t, &drpc.Call{Method: int32(methodBlock), Sequence: 1})
	second := marshalCall(t, &drpc.Call{Method: int32(methodEcho), Sequence: 2, Body: []byte("queued")})
	require.NoError(t, writePackets(c, messagePackets(first)...))
	eventually(t, func() bool { return mod.blocked.Load() == 1 }, "the first call runs")
	require.NoError(t, writePackets(c, messagePackets(second)...))

	stopped := shutdownAsync(context.Background(), srv)
	assertGoneEventually(t, srv.SocketPath()) // Shutdown has begun
	_ = srv.NumSessions()                     // and has told the sessions (it held the lock meanwhile)
	close(mod.block)
	resp := readResponse(t, c)
	assert.Equal(t, int64(1), resp.Sequence)
	assert.Equal(t, drpc.StatusSuccess, resp.Status, "the call in flight finishes")
	resp = readResponse(t, c)
	assert.Equal(t, int64(2), resp.Sequence)
	assert.Equal(t, drpc.StatusFailure, resp.Status)
	assert.Equal(t, "dRPC server is shutting down", string(resp.Body))
	waitClosed(t, c)
	require.NoError(t, receive(t, stopped, "Shutdown"))
}

func TestShutdownEndsIdleSessionsAtOnce(t *testing.T) {
	// Idle sessions end without waiting for anything; their clients' next
	// calls are not sent, and say so.
	srv, _ := startServer(t)
	var clients []*drpc.ClientConnection
	for range 50 {
		c := connect(t, srv)
		echo(t, c, "idle now")
		clients = append(clients, c)
	}
	require.NoError(t, srv.Shutdown(context.Background()))
	assert.Zero(t, srv.NumSessions())
	for _, c := range clients {
		_, err := c.SendMsg(context.Background(), &drpc.Call{Method: int32(methodEcho)})
		require.ErrorIs(t, err, drpc.ErrNotSent)
	}
}

func TestShutdownUnderLoadAnswersEveryCall(t *testing.T) {
	// Clients that call without pause, on connections of their own and on
	// a connection per call (as DAOS clients do), while the server shuts
	// down: every call is answered, refused with the reason, or not sent
	// (and says so). None is sent and then lost.
	srv, _ := startServer(t)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	type outcome struct{ ok, refused, notSent, noServer int }
	results := make(chan outcome)
	lost := make(chan error, 64)
	classify := func(o *outcome, resp *drpc.Response, err error) bool {
		switch {
		case err == nil && resp.Status == drpc.StatusSuccess:
			o.ok++
		case err == nil && string(resp.Body) == "dRPC server is shutting down":
			o.refused++
			return false
		case errors.Is(err, drpc.ErrNotSent):
			o.notSent++
			return false
		default:
			lost <- fmt.Errorf("status %v: %w", resp.GetStatus(), err)
			return false
		}
		return true
	}
	started := make(chan struct{}, 16)
	for i := range 8 {
		go func() { // a connection of its own
			var o outcome
			c := drpc.NewClientConnection(srv.SocketPath())
			if err := c.Connect(context.Background()); err == nil {
				started <- struct{}{}
				for ctx.Err() == nil {
					resp, err := c.SendMsg(context.Background(), &drpc.Call{Method: int32(methodEcho), Body: []byte{byte(i)}})
					if !classify(&o, resp, err) {
						break
					}
				}
				_ = c.Close()
			}
			results <- o
		}()
		go func() { // a connection per call
			var o outcome
			sent := false
			for ctx.Err() == nil {
				c := drpc.NewClientConnection(srv.SocketPath())
				if err := c.Connect(context.Background()); err != nil {
					o.noServer++
					break
				}
				resp, err := c.SendMsg(context.Background(), &drpc.Call{Method: int32(methodEcho), Body: []byte{byte(i)}})
				_ = c.Close()
				if !sent {
					sent = true
					started <- struct{}{}
				}
				if !classify(&o, resp, err) {
					break
				}
			}
			results <- o
		}()
	}
	for range 16 {
		receive(t, started, "a client's first call")
	}
	require.NoError(t, srv.Shutdown(context.Background()))
	stop()
	var sum outcome
	for range 16 {
		o := receive(t, results, "a client's end")
		sum.ok += o.ok
		sum.refused += o.refused
		sum.notSent += o.notSent
		sum.noServer += o.noServer
	}
	close(lost)
	for err := range lost {
		t.Errorf("a call was sent and lost: %v", err)
	}
	t.Logf("answered %d, refused %d, not sent %d, no server %d", sum.ok, sum.refused, sum.notSent, sum.noServer)
	assert.Positive(t, sum.ok)
}
