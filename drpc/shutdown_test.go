package drpc_test

import (
	"context"
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

func TestCancelStartContextStopsServer(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		srv, err := drpc.NewDomainSocketServer(socketPath(t))
		require.NoError(t, err)
		require.NoError(t, srv.RegisterRPCModule(&echoModule{block: make(chan struct{})}))
		ctx, cancel := context.WithCancel(context.Background())
		require.NoError(t, srv.Start(ctx))
		c := connect(t, srv)
		echo(t, c, "before")

		cancel()
		eventually(t, func() bool {
			_, err := os.Lstat(srv.SocketPath())
			return os.IsNotExist(err)
		}, "the socket file should go")
		sessionsDropTo(t, srv, 0)
		assertGone(t, srv.SocketPath())
		assert.ErrorIs(t, srv.Start(context.Background()), drpc.ErrServerClosed)
	})
	t.Run("with a call in flight", func(t *testing.T) {
		srv, err := drpc.NewDomainSocketServer(socketPath(t))
		require.NoError(t, err)
		mod := &echoModule{block: make(chan struct{})}
		require.NoError(t, srv.RegisterRPCModule(mod))
		ctx, cancel := context.WithCancel(context.Background())
		require.NoError(t, srv.Start(ctx))
		c := connect(t, srv)
		inFlight := blockingCall(t, c, mod)

		cancel() // stops at once, cutting the call off
		assert.Error(t, receive(t, inFlight, "the cut-off call").err)
		eventually(t, func() bool { return mod.ctxEnded.Load() == 1 }, "the handler's context should be cancelled")
		sessionsDropTo(t, srv, 0)
		err = srv.Shutdown(context.Background())
		assert.ErrorIs(t, err, context.Canceled, "Shutdown reports the stop that Start's context caused")
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
