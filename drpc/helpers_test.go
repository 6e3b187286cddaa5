package drpc_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/drpc"
)

// echoModule is module 0 of the tests: method 1 echoes the body, method 2
// fails with the status in the body's first byte, method 3 panics, method 4
// blocks until its context ends or the body's channel (see blockers) fires.
type echoModule struct {
	block chan struct{} // method 4 waits on it
}

const (
	methodEcho  drpc.MethodID = 1
	methodFail  drpc.MethodID = 2
	methodPanic drpc.MethodID = 3
	methodBlock drpc.MethodID = 4
)

func (m *echoModule) ID() drpc.ModuleID { return 0 }
func (m *echoModule) String() string    { return "echo" }

// echoMethods are the echo module's methods, built once: GetMethod runs on
// every call.
var echoMethods = map[drpc.MethodID]drpc.Method{
	methodEcho:  drpc.NewMethod(0, methodEcho, "echo"),
	methodFail:  drpc.NewMethod(0, methodFail, "fail"),
	methodPanic: drpc.NewMethod(0, methodPanic, "panic"),
	methodBlock: drpc.NewMethod(0, methodBlock, "block"),
}

func (m *echoModule) GetMethod(id drpc.MethodID) (drpc.Method, error) {
	meth, ok := echoMethods[id]
	if !ok {
		return nil, drpc.UnknownMethodFailure()
	}
	return meth, nil
}

func (m *echoModule) HandleCall(ctx context.Context, _ *drpc.Session, meth drpc.Method, body []byte) ([]byte, error) {
	switch meth.ID() {
	case methodEcho:
		return body, nil
	case methodFail:
		return nil, drpc.NewFailure(drpc.Status(body[0]))
	case methodPanic:
		panic("handler bug")
	case methodBlock:
		select {
		case <-m.block:
			return []byte("done"), nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return nil, drpc.UnknownMethodFailure()
}

// socketPath returns a fresh socket path in a short temporary directory
// (t.TempDir paths can exceed the 108-byte sun_path limit).
func socketPath(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "drpc")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return filepath.Join(dir, "test.sock")
}

// startServer starts a server with the echo module on a fresh socket and
// shuts it down when the test ends.
func startServer(t testing.TB, opts ...drpc.Option) (*drpc.DomainSocketServer, *echoModule) {
	t.Helper()
	srv, err := drpc.NewDomainSocketServer(slog.New(slog.DiscardHandler), socketPath(t), 0o600, opts...)
	require.NoError(t, err)
	mod := &echoModule{block: make(chan struct{})}
	require.NoError(t, srv.RegisterRPCModule(mod))
	require.NoError(t, srv.Start(context.Background()))
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	return srv, mod
}

// connect returns a client connected to srv, closed when the test ends.
func connect(t testing.TB, srv *drpc.DomainSocketServer, opts ...drpc.Option) *drpc.ClientConnection {
	t.Helper()
	c := drpc.NewClientConnection(srv.GetSocketPath(), opts...)
	require.NoError(t, c.Connect(context.Background()))
	t.Cleanup(func() { _ = c.Close() })
	return c
}
