// Command drpc calls dRPC servers by hand, as grpcurl does for gRPC: call a
// method with a body written as JSON, list the methods of the schema, ask
// the security agent for a credential, load-test a server, and serve an
// echo to test against. Run `drpc --help`, or see tools/README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/cc532012/drpc/daemon/cli"
	"github.com/cc532012/drpc/tools/cmd/drpc/internal/app"
)

func main() {
	os.Exit(run())
}

// run executes the command line; SIGINT and SIGTERM end the command's
// context (serve-echo shuts down, bench stops and reports), and a second
// signal kills the process as usual.
func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
	}()
	return cli.Execute(ctx, app.NewRoot())
}
