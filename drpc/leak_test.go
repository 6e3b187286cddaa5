package drpc_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/drpc"
)

// resources counts the goroutines and open file descriptors of the test
// process, which holds both the clients and the servers.
type resources struct{ goroutines, fds int }

func (r resources) String() string {
	return fmt.Sprintf("%d goroutines, %d open files", r.goroutines, r.fds)
}

func countResources(t testing.TB) resources {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return resources{goroutines: runtime.NumGoroutine(), fds: len(fds)}
}

// noLeaks runs f and checks that, once things settle, the process has no
// more goroutines and open files than before.
func noLeaks(t *testing.T, f func()) {
	t.Helper()
	before := countResources(t)
	f()
	var after resources
	settled := func() bool {
		after = countResources(t)
		return after.goroutines <= before.goroutines && after.fds <= before.fds
	}
	for deadline := time.Now().Add(hangGuard); !settled() && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if after.goroutines > before.goroutines || after.fds > before.fds {
		buf := make([]byte, 1<<20)
		t.Logf("goroutines:\n%s", buf[:runtime.Stack(buf, true)])
		fds, _ := os.ReadDir("/proc/self/fd")
		for _, fd := range fds {
			target, _ := os.Readlink("/proc/self/fd/" + fd.Name())
			t.Logf("fd %s -> %s", fd.Name(), target)
		}
		t.Fatalf("resources leaked: before: %v; after: %v", before, after)
	}
}

func TestNoLeaksClientLoop(t *testing.T) {
	srv, mod := startServer(t)
	serverWorks(t, srv) // warm up whatever starts once
	noLeaks(t, func() {
		for i := range 200 {
			c := drpc.NewClientConnection(srv.SocketPath())
			require.NoError(t, c.Connect(context.Background()))
			ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
			resp, err := c.SendMsg(ctx, &drpc.Call{Method: int32(methodEcho), Body: []byte{byte(i)}})
			cancel()
			require.NoError(t, err)
			require.Equal(t, []byte{byte(i)}, resp.Body)
			if i%4 == 0 { // and without a deadline
				_, err = c.SendMsg(context.Background(), &drpc.Call{Method: int32(methodPanic)})
				require.NoError(t, err)
			}
			require.NoError(t, c.Close())
		}
		sessionsDropTo(t, srv, 0)
	})

	t.Run("calls cut off", func(t *testing.T) {
		noLeaks(t, func() {
			for range 20 {
				// The client gives up on a blocked call; the server's
				// handler is cancelled when the client hangs up.
				c := drpc.NewClientConnection(srv.SocketPath())
				require.NoError(t, c.Connect(context.Background()))
				ctx, cancel := context.WithCancel(context.Background())
				before := mod.started.Load()
				errc := make(chan error, 1)
				go func() {
					_, err := c.SendMsg(ctx, &drpc.Call{Method: int32(methodBlock)})
					errc <- err
				}()
				eventually(t, func() bool { return mod.started.Load() > before })
				cancel()
				require.ErrorIs(t, receive(t, errc, "the cancelled call"), context.Canceled)
				require.NoError(t, c.Close())
			}
			eventually(t, func() bool { return mod.blocked.Load() == 0 })
			sessionsDropTo(t, srv, 0)
		})
	})

	t.Run("failed connects", func(t *testing.T) {
		noLeaks(t, func() {
			for range 50 {
				c := drpc.NewClientConnection(srv.SocketPath() + ".missing")
				require.Error(t, c.Connect(context.Background()))
			}
		})
	})
}

func TestNoLeaksServerLoop(t *testing.T) {
	noLeaks(t, func() {
		for i := range 30 {
			srv, err := drpc.NewDomainSocketServer(socketPath(t))
			require.NoError(t, err)
			mod := &echoModule{block: make(chan struct{})}
			require.NoError(t, srv.RegisterRPCModule(mod))
			ctx, stop := context.WithCancel(context.Background())
			require.NoError(t, srv.Start(ctx))

			c := drpc.NewClientConnection(srv.SocketPath())
			require.NoError(t, c.Connect(context.Background()))
			echo(t, c, "hello")
			switch i % 3 {
			case 0: // clean: the client leaves first
				require.NoError(t, c.Close())
				require.NoError(t, srv.Shutdown(context.Background()))
			case 1: // an idle client is still connected
				require.NoError(t, srv.Shutdown(context.Background()))
				require.NoError(t, c.Close())
			case 2: // a call is cut off by the deadline
				inFlight := blockingCall(t, c, mod)
				sctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
				require.ErrorIs(t, srv.Shutdown(sctx), context.DeadlineExceeded)
				cancel()
				require.Error(t, receive(t, inFlight, "the cut-off call").err)
				require.NoError(t, c.Close())
			}
			stop()
			sessionsDropTo(t, srv, 0)
		}
	})
}

func TestNoLeaksServe(t *testing.T) {
	noLeaks(t, func() {
		for range 20 {
			srv, err := drpc.NewDomainSocketServer(socketPath(t))
			require.NoError(t, err)
			require.NoError(t, srv.RegisterRPCModule(&echoModule{block: make(chan struct{})}))
			ctx, stop := context.WithCancel(context.Background())
			served := serve(t, srv, ctx)
			serverWorks(t, srv)
			stop() // Serve's context ends: the server stops by itself
			require.NoError(t, receive(t, served, "Serve's return"))
		}
	})
}
