package drpc_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/cc532012/drpc/drpc"
)

// greeterModule is a dRPC module with ID 5: its method 501 answers
// "hello, <body>".
type greeterModule struct{}

var methodGreet = drpc.NewMethod(5, 501, "greet")

func (greeterModule) ID() drpc.ModuleID { return 5 }
func (greeterModule) String() string    { return "greeter" }

func (greeterModule) GetMethod(id drpc.MethodID) (drpc.Method, error) {
	if id != methodGreet.ID() {
		return nil, drpc.NewFailure(drpc.StatusUnknownMethod, "")
	}
	return methodGreet, nil
}

func (greeterModule) HandleCall(_ context.Context, s *drpc.Session, _ drpc.Method, body []byte) ([]byte, error) {
	if len(body) == 0 {
		return nil, drpc.NewFailure(drpc.StatusFailure, "whom should I greet?")
	}
	// The body is only valid during the call: build a new reply.
	return fmt.Appendf(nil, "hello, %s", body), nil
}

// The server workflow of the seed: create a server on a socket path,
// register the modules it serves, start it, and shut it down when done.
func ExampleDomainSocketServer() {
	dir, _ := os.MkdirTemp("", "drpc-example")
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "greeter.sock")
	ctx := context.Background()

	// 1. A server for the socket; 0600 lets only this user connect.
	srv, err := drpc.NewDomainSocketServer(sock, drpc.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		fmt.Println(err)
		return
	}
	// 2. Register the modules it serves.
	if err := srv.RegisterRPCModule(greeterModule{}); err != nil {
		fmt.Println(err)
		return
	}
	// 3. Start: create the socket and serve in the background.
	if err := srv.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	fi, _ := os.Stat(sock)
	fmt.Println("listening, mode", fi.Mode().Perm())

	// A second server on the same path is refused.
	other, _ := drpc.NewDomainSocketServer(sock)
	err = other.Start(ctx)
	fmt.Println("second server refused:", errors.Is(err, drpc.ErrSocketInUse))

	// 4. Shut down: stop accepting, finish calls in flight, remove the socket.
	if err := srv.Shutdown(ctx); err != nil {
		fmt.Println(err)
	}
	_, err = os.Stat(sock)
	fmt.Println("socket removed:", os.IsNotExist(err))
	// Output:
	// listening, mode -rw-------
	// second server refused: true
	// socket removed: true
}

// The client workflow of the seed: create a client for the server's socket,
// connect, send calls, and close.
func ExampleClientConnection() {
	dir, _ := os.MkdirTemp("", "drpc-example")
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "greeter.sock")
	ctx := context.Background()
	srv, _ := drpc.NewDomainSocketServer(sock)
	_ = srv.RegisterRPCModule(greeterModule{})
	_ = srv.Start(ctx)
	defer srv.Shutdown(ctx)

	// 1. A client for the server's socket.
	conn := drpc.NewClientConnection(sock)
	// 2. Connect.
	if err := conn.Connect(ctx); err != nil {
		fmt.Println(err)
		return
	}
	// 5. Close when done.
	defer conn.Close()

	// 3. Send a call: module, method and the marshalled request.
	resp, err := conn.SendMsg(ctx, &drpc.Call{Module: 5, Method: 501, Body: []byte("DAOS")})
	if err != nil {
		fmt.Println("call failed:", err) // not sent, or no valid response
		return
	}
	// An error-free call can still carry the server's failure: check it.
	if err := drpc.FailureFromResponse(resp); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("sequence %d: %s\n", resp.Sequence, resp.Body)

	// 4. Send as many calls as needed; failures come back as statuses.
	resp, _ = conn.SendMsg(ctx, &drpc.Call{Module: 5, Method: 501})
	fmt.Printf("sequence %d: %v\n", resp.Sequence, drpc.FailureFromResponse(resp))
	resp, _ = conn.SendMsg(ctx, &drpc.Call{Module: 5, Method: 599})
	fmt.Printf("sequence %d: %v\n", resp.Sequence, resp.Status)
	resp, _ = conn.SendMsg(ctx, &drpc.Call{Module: 7, Method: 701})
	fmt.Printf("sequence %d: %v\n", resp.Sequence, resp.Status)
	// Output:
	// sequence 1: hello, DAOS
	// sequence 2: dRPC call failed: STATUS_FAILURE: whom should I greet?
	// sequence 3: STATUS_UNKNOWN_METHOD
	// sequence 4: STATUS_UNKNOWN_MODULE
}
