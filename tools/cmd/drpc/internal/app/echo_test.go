package app

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	testv1drpc "github.com/cc532012/drpc/api/test/v1/testv1drpc"
	"github.com/cc532012/drpc/drpc"
	testv1 "github.com/cc532012/drpc/proto/drpc/test/v1"
)

// generatedEcho is the generated Echo with the obvious implementation.
type generatedEcho struct {
	testv1drpc.UnimplementedTestServiceServer
}

func (generatedEcho) Echo(_ context.Context, _ *drpc.Session, req *testv1.EchoRequest) (*testv1.EchoResponse, error) {
	return &testv1.EchoResponse{Payload: req.GetPayload()}, nil
}

func TestEchoBodyIsAnEchoRequest(t *testing.T) {
	sizes := []int{0, 2, 3, 100, 128, 129, 130, 131, 200, 16385, 16386, 16387, 16388, 1 << 20, 2097155, 2097156, 2097157}
	for _, n := range sizes {
		b := EchoBody(n)
		require.Len(t, b, n, "size %d", n)
		var req testv1.EchoRequest
		require.NoError(t, proto.Unmarshal(b, &req), "size %d", n)
		if n > 0 {
			assert.Less(t, len(req.GetPayload()), n)
			assert.GreaterOrEqual(t, len(req.GetPayload()), n-1-4)
		}
	}
	assert.Equal(t, []byte{0}, EchoBody(1))
	assert.Nil(t, EchoBody(-5))
}

// TestEchoModuleMatchesGenerated checks the claim of EchoModule's doc: for
// an EchoRequest the raw echo's reply is the generated Echo's, byte for
// byte, and other bodies come back unchanged from the raw echo only.
func TestEchoModuleMatchesGenerated(t *testing.T) {
	ctx := context.Background()
	gen := testv1drpc.NewTestServiceModule(generatedEcho{})
	raw := EchoModule{}
	m := testv1drpc.TestServiceEchoMethod
	for _, payload := range [][]byte{nil, []byte("hello"), bytes.Repeat([]byte{0xff}, 70000)} {
		body, err := proto.Marshal(&testv1.EchoRequest{Payload: payload})
		require.NoError(t, err)
		want, err := gen.HandleCall(ctx, nil, m, body)
		require.NoError(t, err)
		got, err := raw.HandleCall(ctx, nil, m, body)
		require.NoError(t, err)
		assert.True(t, bytes.Equal(want, got), "payload of %d bytes", len(payload))
	}
	garbage := []byte{0xde, 0xad, 0xbe, 0xef}
	got, err := raw.HandleCall(ctx, nil, m, garbage)
	require.NoError(t, err)
	assert.Equal(t, garbage, got)
	_, err = gen.HandleCall(ctx, nil, m, garbage)
	assert.Equal(t, drpc.StatusFailedUnmarshalPayload, drpc.StatusOf(err))

	_, err = raw.GetMethod(2)
	assert.Equal(t, drpc.StatusUnknownMethod, drpc.StatusOf(err))
	_, err = raw.HandleCall(ctx, nil, drpc.NewMethod(0, 2, "x"), nil)
	assert.Equal(t, drpc.StatusUnknownMethod, drpc.StatusOf(err))
}
