package daemontest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/drpc"
)

// ServerShutdownTimeout bounds the shutdown of a server that Serve started,
// at the end of the test: calls still in flight then are cut off.
const ServerShutdownTimeout = 5 * time.Second

// Serve starts a dRPC server at the socket path with modules registered and
// opts applied, and shuts it down when the test ends (within
// ServerShutdownTimeout; the error is ignored: a test that checks it, or
// that stops the server earlier, calls Shutdown itself, which may be called
// again). It returns the running server.
func Serve(t testing.TB, path string, modules []drpc.Module, opts ...drpc.ServerOption) *drpc.DomainSocketServer {
	t.Helper()
	srv, err := drpc.NewDomainSocketServer(path, opts...)
	require.NoError(t, err, "make a dRPC server on %s", path)
	for _, m := range modules {
		require.NoError(t, srv.RegisterRPCModule(m))
	}
	require.NoError(t, srv.Start(context.Background()), "start the dRPC server on %s", path)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ServerShutdownTimeout)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return srv
}

// Connect returns a client connected to the dRPC server at the socket path,
// closed when the test ends.
func Connect(t testing.TB, path string) *drpc.ClientConnection {
	t.Helper()
	conn := drpc.NewClientConnection(path)
	require.NoError(t, conn.Connect(context.Background()), "connect to the dRPC server on %s", path)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}
