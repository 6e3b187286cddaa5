package drpc_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/drpc"
)

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
	eventually(t, func() bool { return srv.Watching() == 1 }, "the watch starts and looks at the packet")
	mod.block <- struct{}{}
	first := readResponse(t, c)
	assert.Equal(t, int64(1), first.Sequence)
	assert.Equal(t, "done", string(first.Body))
	second := readResponse(t, c)
	assert.Equal(t, int64(2), second.Sequence)
	assert.Equal(t, "queued", string(second.Body))
}

func TestClientDisconnectsMidCall(t *testing.T) {
	tests := []struct {
		name       string
		disconnect func(t *testing.T, srv *drpc.DomainSocketServer, mod *echoModule)
	}{
		{"raw connection closed while the handler runs", func(t *testing.T, srv *drpc.DomainSocketServer, mod *echoModule) {
			c := dialPacket(t, srv.SocketPath())
			require.NoError(t, writePackets(c, messagePackets(marshalCall(t, &drpc.Call{Method: int32(methodBlock), Sequence: 1}))...))
			eventually(t, func() bool { return mod.blocked.Load() == 1 }, "the handler should be running")
			require.NoError(t, c.Close())
		}},
		{"client call cancelled while the handler runs", func(t *testing.T, srv *drpc.DomainSocketServer, mod *echoModule) {
			c := connect(t, srv)
			ctx, cancel := context.WithCancel(context.Background())
			errc := make(chan error, 1)
			go func() {
				_, err := c.SendMsg(ctx, &drpc.Call{Method: int32(methodBlock)})
				errc <- err
			}()
			eventually(t, func() bool { return mod.blocked.Load() == 1 }, "the handler should be running")
			cancel()
			require.ErrorIs(t, <-errc, context.Canceled)
			assert.False(t, c.IsConnected(), "a cancelled call closes the connection")
		}},
		{"after 1 of 3 chunks", func(t *testing.T, srv *drpc.DomainSocketServer, _ *echoModule) {
			c := dialPacket(t, srv.SocketPath())
			msg := marshalCall(t, &drpc.Call{Method: int32(methodEcho), Sequence: 1, Body: make([]byte, threeChunks)})
			require.NoError(t, writePackets(c, messagePackets(msg)[0]))
			require.NoError(t, c.Close())
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, mod := startServer(t)
			other := connect(t, srv)
			echo(t, other, "before")

			tc.disconnect(t, srv, mod)

			// The handler learns that its client is gone, and the session
			// ends.
			eventually(t, func() bool { return mod.blocked.Load() == 0 }, "the handler's context should end when its client hangs up")
			sessionsDropTo(t, srv, 1)
			echo(t, other, "after")
			serverWorks(t, srv)
		})
	}
}

func TestHandlerContextEndsWhenClientHangsUp(t *testing.T) {
	srv, mod := startServer(t)
	c := dialPacket(t, srv.SocketPath())
	require.NoError(t, writePackets(c, messagePackets(marshalCall(t, &drpc.Call{Method: int32(methodBlock), Sequence: 1}))...))
	eventually(t, func() bool { return mod.blocked.Load() == 1 })
	require.NoError(t, c.Close())
	eventually(t, func() bool { return mod.ctxEnded.Load() == 1 }, "the handler's context should be cancelled")
	sessionsDropTo(t, srv, 0)
}

// TestSlowCallKeepsItsSession checks that watching a long call for a hang-up
// neither ends it nor eats the session's next call.
func TestSlowCallKeepsItsSession(t *testing.T) {
	srv, mod := startServer(t)
	c := connect(t, srv)
	done := make(chan error, 1)
	go func() {
		resp, err := c.SendMsg(context.Background(), &drpc.Call{Method: int32(methodBlock)})
		if err == nil && string(resp.Body) != "done" {
			err = fmt.Errorf("unexpected reply %q", resp.Body)
		}
		done <- err
	}()
	eventually(t, func() bool { return mod.blocked.Load() == 1 })
	eventually(t, func() bool { return srv.Watching() == 1 }, "the watch of the long call starts")
	close(mod.block)
	require.NoError(t, <-done)
	assert.Equal(t, int32(0), mod.ctxEnded.Load(), "the client stayed: the call's context must not end")
	echo(t, c, "next call on the same session")
}
