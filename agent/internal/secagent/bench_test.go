package secagent_test

import (
	"context"
	"crypto"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/cc532012/drpc/agent/internal/secagent"
	authv1drpc "github.com/cc532012/drpc/api/auth/v1/authv1drpc"
	testv1drpc "github.com/cc532012/drpc/api/test/v1/testv1drpc"
	"github.com/cc532012/drpc/drpc"
	"github.com/cc532012/drpc/drpc/auth"
	authv1 "github.com/cc532012/drpc/proto/drpc/auth/v1"
	testv1 "github.com/cc532012/drpc/proto/drpc/test/v1"
)

type echo struct {
	testv1drpc.UnimplementedTestServiceServer
}

func (echo) Echo(_ context.Context, _ *drpc.Session, req *testv1.EchoRequest) (*testv1.EchoResponse, error) {
	return &testv1.EchoResponse{Payload: req.GetPayload()}, nil
}

// echoPayloadFor returns a payload whose EchoResponse encodes to n bytes.
func echoPayloadFor(n int) []byte {
	for p := n; p >= 0; p-- {
		if proto.Size(&testv1.EchoResponse{Payload: make([]byte, p)}) == n {
			return make([]byte, p)
		}
	}
	return nil
}

// BenchmarkRequestCredentials measures method 101 end to end over a real
// socket (client and server in this process), cached and uncached, with
// Ed25519 and RSA-3072 keys, next to an echo call (module 0) whose reply is
// the same size as the credential reply, on the same server in the same run.
// The aim: a cached request costs at most 1.3x the echo call.
func BenchmarkRequestCredentials(b *testing.B) {
	keys := []struct {
		name string
		typ  auth.KeyType
		bits int
	}{{"ed25519", auth.KeyEd25519, 0}, {"rsa3072", auth.KeyRSA, 3072}}
	for _, k := range keys {
		key, err := auth.GenerateKey(k.typ, k.bits)
		require.NoError(b, err)
		b.Run(k.name, func(b *testing.B) {
			benchKey(b, key)
		})
	}
}

func benchKey(b *testing.B, key crypto.Signer) {
	ctx := context.Background()
	cached := serve(b, newService(b, key, secagent.Options{CacheTTL: time.Hour}), testv1drpc.NewTestServiceModule(echo{}))
	uncached := serve(b, newService(b, key, secagent.Options{CacheTTL: 0}))
	credClient := authv1drpc.NewSecurityAgentServiceClient(cached)
	uncachedClient := authv1drpc.NewSecurityAgentServiceClient(uncached)
	echoClient := testv1drpc.NewTestServiceClient(cached)

	first, err := credClient.RequestCredentials(ctx, &authv1.GetCredReq{})
	require.NoError(b, err)
	req := &testv1.EchoRequest{Payload: echoPayloadFor(proto.Size(first))}

	b.Run("echo-same-size", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(proto.Size(first)))
		for b.Loop() {
			if _, err := echoClient.Echo(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(proto.Size(first)))
		for b.Loop() {
			resp, err := credClient.RequestCredentials(ctx, &authv1.GetCredReq{})
			if err != nil || resp.GetStatus() != 0 {
				b.Fatal(err, resp.GetStatus())
			}
		}
	})
	// Both calls in turn, each timed: the ratio does not drift with the
	// machine's load between sub-benchmarks.
	b.Run("cached-vs-echo", func(b *testing.B) {
		var echoTime, credTime time.Duration
		for b.Loop() {
			t0 := time.Now()
			if _, err := echoClient.Echo(ctx, req); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			if _, err := credClient.RequestCredentials(ctx, &authv1.GetCredReq{}); err != nil {
				b.Fatal(err)
			}
			echoTime += t1.Sub(t0)
			credTime += time.Since(t1)
		}
		b.ReportMetric(float64(echoTime.Nanoseconds())/float64(b.N), "echo-ns/op")
		b.ReportMetric(float64(credTime.Nanoseconds())/float64(b.N), "cached-ns/op")
		b.ReportMetric(float64(credTime)/float64(echoTime), "cached/echo")
	})
	b.Run("uncached", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(proto.Size(first)))
		for b.Loop() {
			resp, err := uncachedClient.RequestCredentials(ctx, &authv1.GetCredReq{})
			if err != nil || resp.GetStatus() != 0 {
				b.Fatal(err, resp.GetStatus())
			}
		}
	})
}
