package api_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	testv1drpc "github.com/cc532012/drpc/api/test/v1/testv1drpc"
	"github.com/cc532012/drpc/drpc"
	testv1 "github.com/cc532012/drpc/proto/drpc/test/v1"
)

// README:begin

// readmeEcho implements the generated echo service (module 0).
type readmeEcho struct {
	testv1drpc.UnimplementedTestServiceServer
}

func (readmeEcho) Echo(_ context.Context, _ *drpc.Session, req *testv1.EchoRequest) (*testv1.EchoResponse, error) {
	return &testv1.EchoResponse{Payload: req.GetPayload()}, nil
}

// A server with a generated module, and a client that calls it.
func Example_readme() {
	sock := filepath.Join(os.TempDir(), fmt.Sprintf("readme-%d.sock", os.Getpid()))
	ctx := context.Background()

	srv, err := drpc.NewDomainSocketServer(sock) // socket mode 0600
	if err != nil {
		log.Fatal(err)
	}
	if err := srv.RegisterRPCModule(testv1drpc.NewTestServiceModule(readmeEcho{})); err != nil {
		log.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer srv.Shutdown(ctx) // finishes calls in flight, removes the socket

	conn := drpc.NewClientConnection(sock)
	if err := conn.Connect(ctx); err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	reply, err := testv1drpc.NewTestServiceClient(conn).Echo(ctx, &testv1.EchoRequest{Payload: []byte("hello")})
	fmt.Println(string(reply.GetPayload()), err)
	// Output: hello <nil>
}

// README:end

// TestReadmeExample keeps the root README's example the code above, which
// compiles and runs as Example_readme.
func TestReadmeExample(t *testing.T) {
	src, err := os.ReadFile("readme_example_test.go")
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(src), "// README:begin\n\n")
	require.True(t, ok)
	code, _, ok := strings.Cut(rest, "\n// README:end")
	require.True(t, ok)

	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	require.NoError(t, err)
	_, rest, ok = strings.Cut(string(readme), "<!-- example: api/readme_example_test.go -->\n```go\n")
	require.True(t, ok, "the README has the example block")
	block, _, ok := strings.Cut(rest, "```")
	require.True(t, ok)
	require.Equal(t, code, block, "update the README's example from api/readme_example_test.go")
}
