package drpc_test

import (
	"bytes"
	"context"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/drpc"
	"github.com/cc532012/drpc/drpc/internal/wire"
)

// The memory a connection costs: a server keeps one session per client,
// mostly idle, and some clients open a connection per call.

func TestIdleSessionsHoldLittleMemory(t *testing.T) {
	// Sessions that made one small call each and now wait for the next
	// hold a buffer the size of that call, not one of a whole packet.
	const sessions = 1000
	srv, _ := startServer(t)
	call := marshalCall(t, &drpc.Call{Method: int32(methodEcho), Sequence: 1, Body: bytes.Repeat([]byte("x"), 64)})
	packets := messagePackets(call)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)

	// Raw connections on the client side, so that the figure is the
	// server's (and a net.UnixConn each).
	conns := make([]*net.UnixConn, sessions)
	buf := make([]byte, 1024)
	for i := range conns {
		c := dialPacket(t, srv.SocketPath())
		require.NoError(t, writePackets(c, packets...))
		require.NoError(t, c.SetReadDeadline(time.Now().Add(hangGuard)))
		n, err := c.Read(buf)
		require.NoError(t, err)
		require.Greater(t, n, wire.HeaderSize+64, "the echo's answer")
		conns[i] = c
	}
	require.Equal(t, sessions, srv.NumSessions())

	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	perSession := (int64(after.HeapInuse) - int64(before.HeapInuse)) / sessions
	t.Logf("%d idle sessions: %d bytes of heap each (client's connection included)", sessions, perSession)
	assert.Less(t, perSession, int64(16<<10), "heap in use per idle session")
	runtime.KeepAlive(conns)
}

func TestNewConnectionAllocatesLittle(t *testing.T) {
	// A client that connects for one small call, and the session that
	// answers it: together they allocate far less than a packet's worth.
	srv, _ := startServer(t)
	ctx := context.Background()
	call := &drpc.Call{Method: int32(methodEcho), Body: bytes.Repeat([]byte("x"), 64)}
	oneCall := func() {
		c := drpc.NewClientConnection(srv.SocketPath())
		require.NoError(t, c.Connect(ctx))
		resp, err := c.SendMsg(ctx, call)
		require.NoError(t, err)
		require.Len(t, resp.Body, 64)
		require.NoError(t, c.Close())
	}
	oneCall() // warms up the overflow buffers and the server
	sessionsDropTo(t, srv, 0)

	const conns = 50
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range conns {
		oneCall()
	}
	sessionsDropTo(t, srv, 0) // the sessions' own clean-up counts too
	runtime.ReadMemStats(&after)
	perConn := (after.TotalAlloc - before.TotalAlloc) / conns
	t.Logf("a connection for one 64-byte call allocates %d bytes (client and server)", perConn)
	assert.Less(t, perConn, uint64(64<<10), "bytes allocated per connection by both sides")
}
