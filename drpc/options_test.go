package drpc_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
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
	require.Equal(t, limit, srv.NumSessions())

	// The kernel accepts one more; the server answers its first call with
	// the reason, then closes it.
	extra := connect(t, srv)
	resp, err := extra.SendMsg(context.Background(), &drpc.Call{Method: int32(methodEcho)})
	require.NoError(t, err)
	assert.Equal(t, drpc.StatusFailure, resp.Status)
	assert.Equal(t, int64(1), resp.Sequence)
	err = drpc.FailureFromResponse(resp)
	assert.Contains(t, err.Error(), "serves its limit of 3 sessions")
	_, err = extra.SendMsg(context.Background(), &drpc.Call{Method: int32(methodEcho)})
	require.Error(t, err, "then the connection is closed")
	require.False(t, extra.IsConnected())
	require.Equal(t, limit, srv.NumSessions())

	require.NoError(t, clients[0].Close())
	sessionsDropTo(t, srv, limit-1)
	echo(t, connect(t, srv), "a place came free")
	for _, c := range clients[1:] {
		echo(t, c, "still served")
	}
}
