package drpc_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/drpc"
	"github.com/cc532012/drpc/drpc/internal/wire"
)

// busyPoll is long enough to cover a whole round trip on a loaded
// machine, so the tests exercise both the polling and the parking path.
const busyPoll = 200 * time.Microsecond

func TestBusyPollCalls(t *testing.T) {
	srv, _ := startServer(t, drpc.WithBusyPoll(busyPoll))
	c := connect(t, srv, drpc.WithBusyPoll(busyPoll))
	ctx := context.Background()
	for _, size := range []int{0, 1, 64, 4096, wire.MaxChunkData + 1, 3*wire.MaxChunkData + 5} {
		body := bytes.Repeat([]byte{7}, size)
		resp, err := c.SendMsg(ctx, &drpc.Call{Method: int32(methodEcho), Body: body})
		require.NoError(t, err, "size %d", size)
		assert.True(t, bytes.Equal(body, resp.Body), "size %d", size)
	}
	// Many goroutines on several connections.
	var wg sync.WaitGroup
	for range 4 {
		cc := connect(t, srv, drpc.WithBusyPoll(busyPoll))
		wg.Go(func() {
			for range 50 {
				echo(t, cc, "concurrent")
			}
		})
	}
	wg.Wait()
}

func TestBusyPollCancellation(t *testing.T) {
	// Deadlines and cancellation interrupt a call that waits in the
	// polling client.
	srv, mod := startServer(t, drpc.WithBusyPoll(busyPoll))
	defer close(mod.block)
	t.Run("deadline", func(t *testing.T) {
		c := connect(t, srv, drpc.WithBusyPoll(busyPoll))
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := c.SendMsg(ctx, &drpc.Call{Method: int32(methodBlock)})
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.False(t, c.IsConnected())
	})
	t.Run("cancel", func(t *testing.T) {
		c := connect(t, srv, drpc.WithBusyPoll(busyPoll))
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		before := mod.started.Load()
		go func() {
			_, err := c.SendMsg(ctx, &drpc.Call{Method: int32(methodBlock)})
			errc <- err
		}()
		eventually(t, func() bool { return mod.started.Load() > before }, "the handler should run")
		cancel()
		require.ErrorIs(t, receive(t, errc, "the cancelled call"), context.Canceled)
	})
	t.Run("close", func(t *testing.T) {
		c := connect(t, srv, drpc.WithBusyPoll(busyPoll))
		inFlight := blockingCall(t, c, mod)
		require.NoError(t, c.Close())
		require.ErrorIs(t, receive(t, inFlight, "the call").err, drpc.ErrConnectionClosed)
	})
}

func TestBusyPollHangupAndShutdown(t *testing.T) {
	// The polling server notices a client that hangs up during its call,
	// and shuts down cleanly with idle, polling sessions.
	srv, mod := startServer(t, drpc.WithBusyPoll(busyPoll))
	c := connect(t, srv, drpc.WithBusyPoll(busyPoll))
	inFlight := blockingCall(t, c, mod)
	require.NoError(t, c.Close())
	receive(t, inFlight, "the call of the client that hung up")
	eventually(t, func() bool { return mod.ctxEnded.Load() == 1 }, "the hang-up should end the handler's context")

	idle := connect(t, srv, drpc.WithBusyPoll(busyPoll))
	echo(t, idle, "idle after this")
	busy := connect(t, srv, drpc.WithBusyPoll(busyPoll))
	call := blockingCall(t, busy, mod)
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(context.Background()) }()
	sessionsDropTo(t, srv, 1) // the idle session is closed at once
	mod.block <- struct{}{}
	res := receive(t, call, "the call in flight")
	require.NoError(t, res.err)
	assert.Equal(t, "done", string(res.resp.Body))
	require.NoError(t, receive(t, done, "Shutdown"))
	_, err := idle.SendMsg(context.Background(), &drpc.Call{Method: int32(methodEcho)})
	assert.Error(t, err)
}
