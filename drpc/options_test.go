package drpc_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/drpc"
)

// TestMaxSessions checks that a server with WithMaxSessions(n) serves n
// clients, closes the connection of one more, and takes new clients again
// once a session has ended.
func TestMaxSessions(t *testing.T) {
	const limit = 3
	srv, _ := startServer(t, drpc.WithMaxSessions(limit))
	clients := make([]*drpc.ClientConnection, limit)
	for i := range clients {
		clients[i] = connect(t, srv)
		echo(t, clients[i], "within the limit")
	}
	require.Equal(t, limit, srv.GetNumSessions())

	extra := connect(t, srv) // the kernel accepts; the server then closes it
	_, err := extra.SendMsg(context.Background(), &drpc.Call{Method: int32(methodEcho)})
	require.Error(t, err, "a session beyond the limit must be refused")
	require.False(t, extra.IsConnected())
	require.Equal(t, limit, srv.GetNumSessions())

	require.NoError(t, clients[0].Close())
	sessionsDropTo(t, srv, limit-1)
	echo(t, connect(t, srv), "a place came free")
	for _, c := range clients[1:] {
		echo(t, c, "still served")
	}
}
