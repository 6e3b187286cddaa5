package drpc_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/cc532012/drpc/drpc"
)

// A pool of sessions shared by many goroutines, across a restart of the
// server: the calls made after the restart go out on new sessions, without
// an error.
func ExamplePool() {
	dir, _ := os.MkdirTemp("", "drpc-example")
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "greeter.sock")
	ctx := context.Background()
	start := func() *drpc.DomainSocketServer {
		srv, _ := drpc.NewDomainSocketServer(sock)
		_ = srv.RegisterRPCModule(greeterModule{})
		_ = srv.Start(ctx)
		return srv
	}
	srv := start()

	// Up to 4 sessions, dialled when calls need them; Close ends them all.
	pool := drpc.NewPool(sock, drpc.PoolOptions{Size: 4})
	defer pool.Close()

	greet := func(name string) string {
		resp, err := pool.SendMsg(ctx, &drpc.Call{Module: 5, Method: 501, Body: []byte(name)})
		switch {
		case errors.Is(err, drpc.ErrOutcomeUnknown):
			return "sent, but the answer was lost: " + err.Error()
		case err != nil:
			return err.Error()
		}
		return string(resp.Body)
	}
	var wg sync.WaitGroup
	answers := make([]string, 8)
	for i := range answers {
		wg.Go(func() { answers[i] = greet(fmt.Sprint("caller ", i)) })
	}
	wg.Wait()
	fmt.Println(answers[0], "...", answers[7])

	// The server restarts: it closes the pool's sessions.
	_ = srv.Shutdown(ctx)
	srv = start()
	defer srv.Shutdown(ctx)
	fmt.Println(greet("after the restart"))

	// Generated clients take the pool as their Sender: drpc.Invoke tells it
	// whether a method is idempotent (drpc.NewIdempotentMethod), and only
	// such a call is sent again after its answer was lost.

	// Output:
	// hello, caller 0 ... hello, caller 7
	// hello, after the restart
}
