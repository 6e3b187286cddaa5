package api_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	testv1drpc "github.com/cc532012/drpc/api/test/v1/testv1drpc"
	"github.com/cc532012/drpc/drpc"
	testv1 "github.com/cc532012/drpc/proto/drpc/test/v1"
)

// rawEcho is module 0 written by hand: method 1 returns the body, which for
// an EchoRequest is the EchoResponse the generated module sends.
type rawEcho struct{}

func (rawEcho) ID() drpc.ModuleID { return testv1drpc.TestServiceModuleID }
func (rawEcho) String() string    { return "raw echo" }
func (rawEcho) GetMethod(id drpc.MethodID) (drpc.Method, error) {
	if id != testv1drpc.TestServiceEchoMethodID {
		return nil, drpc.NewFailure(drpc.StatusUnknownMethod, "")
	}
	return testv1drpc.TestServiceEchoMethod, nil
}
func (rawEcho) HandleCall(_ context.Context, _ *drpc.Session, _ drpc.Method, body []byte) ([]byte, error) {
	return body, nil
}

// BenchmarkGenerated times what the generated code costs over the
// transport, with client and server in this process: the generated
// client (Invoke) against SendMsg, each calling the generated module and a
// hand-written echo. Run it without -race:
//
//	cd api && GOWORK=off go test -run '^$' -bench Generated -benchmem .
func BenchmarkGenerated(b *testing.B) {
	for _, mod := range []struct {
		name string
		m    drpc.Module
	}{
		{"raw-module", rawEcho{}},
		{"gen-module", testv1drpc.NewTestServiceModule(echoServer{})},
	} {
		dir, err := os.MkdirTemp("", "drpcbench")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = os.RemoveAll(dir) })
		path := filepath.Join(dir, "bench.sock")
		srv, err := drpc.NewDomainSocketServer(path, drpc.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			b.Fatal(err)
		}
		if err := srv.RegisterRPCModule(mod.m); err != nil {
			b.Fatal(err)
		}
		if err := srv.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
		c := drpc.NewClientConnection(path)
		if err := c.Connect(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = c.Close() })
		client := testv1drpc.NewTestServiceClient(c)
		ctx := context.Background()

		for _, size := range []int{64, 4 << 10, 128 << 10} {
			req := &testv1.EchoRequest{Payload: bytes.Repeat([]byte{1}, size)}
			body, err := proto.Marshal(req)
			if err != nil {
				b.Fatal(err)
			}
			call := &drpc.Call{Module: int32(testv1drpc.TestServiceModuleID), Method: int32(testv1drpc.TestServiceEchoMethodID), Body: body}
			b.Run(fmt.Sprintf("%s/%d/SendMsg", mod.name, size), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := c.SendMsg(ctx, call); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(fmt.Sprintf("%s/%d/gen-client", mod.name, size), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := client.Echo(ctx, req); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
