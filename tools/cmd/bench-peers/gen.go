package main

import (
	"context"
	"fmt"

	testv1drpc "github.com/cc532012/drpc/api/test/v1/testv1drpc"
	"github.com/cc532012/drpc/drpc"
	testv1 "github.com/cc532012/drpc/proto/drpc/test/v1"
)

// The generated code of module 0 (TestService.Echo): protobuf EchoRequest
// and EchoResponse messages, the typed client (drpc.Invoke, which decodes
// the reply straight from the receive buffer) and the generated module.

// genEcho implements the generated TestServiceServer: it answers with the
// request's payload.
type genEcho struct{}

func (genEcho) Echo(_ context.Context, _ *drpc.Session, req *testv1.EchoRequest) (*testv1.EchoResponse, error) {
	return &testv1.EchoResponse{Payload: req.GetPayload()}, nil
}

func newGenModule() drpc.Module { return testv1drpc.NewTestServiceModule(genEcho{}) }

// genCaller calls through the generated client, as an application does.
type genCaller struct {
	conn   *drpc.ClientConnection
	client testv1drpc.TestServiceClient
	req    testv1.EchoRequest
}

func dialGen(path string, _ int) (caller, error) {
	c, err := connectDRPC(path)
	if err != nil {
		return nil, err
	}
	return &genCaller{conn: c, client: testv1drpc.NewTestServiceClient(c)}, nil
}

func (g *genCaller) call(req []byte, check func([]byte) error) error {
	g.req.Payload = req
	reply, err := g.client.Echo(context.Background(), &g.req)
	if err != nil {
		return fmt.Errorf("generated Echo: %w", err)
	}
	return check(reply.GetPayload())
}

func (g *genCaller) Close() error { return g.conn.Close() }
