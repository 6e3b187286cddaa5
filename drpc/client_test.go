package drpc_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/drpc"
)

func TestClientNotConnected(t *testing.T) {
	srv, _ := startServer(t)
	c := drpc.NewClientConnection(srv.SocketPath())
	assert.False(t, c.IsConnected())
	assert.Equal(t, srv.SocketPath(), c.SocketPath())

	_, err := c.SendMsg(context.Background(), &drpc.Call{Method: int32(methodEcho)})
	require.ErrorIs(t, err, drpc.ErrNotConnected)
	assert.Contains(t, err.Error(), srv.SocketPath())
	assert.NoError(t, c.Close(), "closing an unconnected client does nothing")
}

func TestClientConnectFails(t *testing.T) {
	stale := socketPath(t)
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: stale, Net: "unixpacket"})
	require.NoError(t, err)
	ln.SetUnlinkOnClose(false)
	require.NoError(t, ln.Close())
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	srv, _ := startServer(t)

	expired, cancelExpired := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancelExpired()

	tests := []struct {
		name string
		path string
		ctx  context.Context
		is   error  // what the error wraps, if anything in particular
		says string // what the message says
	}{
		{"missing socket", socketPath(t), context.Background(), syscall.ENOENT, "is it running"},
		{"nobody listening", stale, context.Background(), syscall.ECONNREFUSED, "is it running"},
		{"context ended", srv.SocketPath(), cancelled, context.Canceled, "gave up"},
		{"deadline passed", srv.SocketPath(), expired, context.DeadlineExceeded, "gave up"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := drpc.NewClientConnection(tc.path)
			err := c.Connect(tc.ctx)
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.is)
			assert.Contains(t, err.Error(), tc.says)
			assert.Contains(t, err.Error(), tc.path)
			assert.False(t, c.IsConnected())
			_, err = c.SendMsg(context.Background(), &drpc.Call{})
			assert.ErrorIs(t, err, drpc.ErrNotConnected)
		})
	}
}

func TestClientConnectTwice(t *testing.T) {
	srv, _ := startServer(t)
	c := connect(t, srv)
	echo(t, c, "one")
	require.NoError(t, c.Connect(context.Background()), "connecting a connected client is fine")
	assert.True(t, c.IsConnected())
	resp, err := c.SendMsg(context.Background(), &drpc.Call{Method: int32(methodEcho)})
	require.NoError(t, err)
	assert.Equal(t, int64(2), resp.Sequence, "the second Connect keeps the connection")
	assert.Equal(t, 1, srv.NumSessions())
}

func TestClientSequenceNumbers(t *testing.T) {
	srv, _ := startServer(t)
	c := connect(t, srv)
	for round := range 3 {
		for want := int64(1); want <= 5; want++ {
			resp, err := c.SendMsg(context.Background(), &drpc.Call{Method: int32(methodEcho)})
			require.NoError(t, err)
			assert.Equal(t, want, resp.Sequence, "round %d", round)
		}
		// A failed call uses up a number as well.
		resp, err := c.SendMsg(context.Background(), &drpc.Call{Module: 9, Method: 901})
		require.NoError(t, err)
		assert.Equal(t, int64(6), resp.Sequence)

		require.NoError(t, c.Close())
		assert.False(t, c.IsConnected())
		require.NoError(t, c.Connect(context.Background()))
		assert.True(t, c.IsConnected())
	}
}

func TestClientLeavesCallAlone(t *testing.T) {
	srv, _ := startServer(t)
	c := connect(t, srv)
	body := []byte("caller's bytes")
	call := &drpc.Call{Method: int32(methodEcho), Sequence: 999, Body: body}
	for want := int64(1); want <= 3; want++ {
		resp, err := c.SendMsg(context.Background(), call)
		require.NoError(t, err)
		assert.Equal(t, want, resp.Sequence, "the connection numbers calls, not the caller")
		assert.Equal(t, int64(999), call.Sequence, "call.Sequence is left unchanged")
		assert.Equal(t, "caller's bytes", string(call.Body))
		assert.Same(t, &body[0], &call.Body[0])
	}
}

func TestClientResponsesAreTheCallers(t *testing.T) {
	// A response's body must not change when later calls reuse the
	// client's buffers.
	srv, _ := startServer(t)
	c := connect(t, srv)
	var resps []*drpc.Response
	for i := range 5 {
		resp, err := c.SendMsg(context.Background(), &drpc.Call{Method: int32(methodEcho), Body: bytes.Repeat([]byte{byte('a' + i)}, 100)})
		require.NoError(t, err)
		resps = append(resps, resp)
	}
	for i, resp := range resps {
		assert.Equal(t, bytes.Repeat([]byte{byte('a' + i)}, 100), resp.Body, "response %d", i)
	}
}

func TestClientNilCall(t *testing.T) {
	srv, _ := startServer(t)
	c := connect(t, srv)
	resp, err := c.SendMsg(context.Background(), nil)
	require.Error(t, err)
	assert.Nil(t, resp)
	assert.Contains(t, err.Error(), "call is nil")
	assert.True(t, c.IsConnected(), "a nil call sends nothing and breaks nothing")
	echo(t, c, "fine")

	unconnected := drpc.NewClientConnection(srv.SocketPath())
	_, err = unconnected.SendMsg(context.Background(), nil)
	assert.Error(t, err)
}

func TestClientContextEndedBeforeSend(t *testing.T) {
	srv, _ := startServer(t)
	c := connect(t, srv)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.SendMsg(ctx, &drpc.Call{Method: int32(methodEcho)})
	require.ErrorIs(t, err, context.Canceled)
	assert.True(t, c.IsConnected(), "nothing was sent: the connection is still good")
	resp, err := c.SendMsg(context.Background(), &drpc.Call{Method: int32(methodEcho)})
	require.NoError(t, err)
	assert.Equal(t, int64(1), resp.Sequence, "the refused call used no sequence number")
}

func TestClientCloseTwice(t *testing.T) {
	srv, _ := startServer(t)
	c := connect(t, srv)
	require.NoError(t, c.Close())
	require.NoError(t, c.Close())
	assert.False(t, c.IsConnected())
	sessionsDropTo(t, srv, 0)
}

func TestClientAfterServerGone(t *testing.T) {
	srv, _ := startServer(t)
	path := srv.SocketPath()
	c := connect(t, srv)
	echo(t, c, "before")
	require.NoError(t, srv.Shutdown(context.Background()))

	_, err := c.SendMsg(context.Background(), &drpc.Call{Method: int32(methodEcho)})
	require.Error(t, err)
	assert.False(t, c.IsConnected())
	assert.Error(t, c.Connect(context.Background()), "nobody listens any more")

	// A new server on the same path: the client connects again and
	// numbers its calls from 1.
	again := newServer(t, path, 0o600)
	require.NoError(t, again.Start(context.Background()))
	require.NoError(t, c.Connect(context.Background()))
	resp, err := c.SendMsg(context.Background(), &drpc.Call{Method: int32(methodEcho)})
	require.NoError(t, err)
	assert.Equal(t, int64(1), resp.Sequence)
}

func TestClientSharedByGoroutines(t *testing.T) {
	srv, _ := startServer(t)
	c := connect(t, srv)
	const (
		goroutines = 20
		calls      = 25
	)
	seqs := make(chan int64, goroutines*calls)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range calls {
				body := fmt.Sprintf("goroutine %d call %d", g, i)
				if g%5 == 0 { // some calls span chunks
					body += string(make([]byte, 200_000))
				}
				resp, err := c.SendMsg(context.Background(), &drpc.Call{Method: int32(methodEcho), Body: []byte(body)})
				if !assert.NoError(t, err) {
					return
				}
				assert.Equal(t, drpc.StatusSuccess, resp.Status)
				assert.Equal(t, body, string(resp.Body), "every response matches its own call")
				seqs <- resp.Sequence
			}
		})
	}
	wg.Wait()
	close(seqs)
	seen := make(map[int64]bool)
	for s := range seqs {
		assert.False(t, seen[s], "sequence %d used twice", s)
		seen[s] = true
	}
	require.Len(t, seen, goroutines*calls)
	for s := int64(1); s <= goroutines*calls; s++ {
		assert.True(t, seen[s], "sequence %d missing", s)
	}
	assert.Equal(t, 1, srv.NumSessions(), "one connection carries every call")
}
