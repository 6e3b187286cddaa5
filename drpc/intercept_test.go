package drpc_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/drpc"
	testv1 "github.com/cc532012/drpc/proto/drpc/test/v1"
)

// trace records the order in which interceptors run.
type trace struct {
	mu    sync.Mutex
	steps []string
}

func (tr *trace) add(s string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.steps = append(tr.steps, s)
}

func (tr *trace) get() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]string(nil), tr.steps...)
}

func tracing(tr *trace, name string) drpc.Interceptor {
	return func(ctx context.Context, s *drpc.Session, m drpc.Method, body []byte, next drpc.Handler) ([]byte, error) {
		tr.add(name + " in " + m.String() + " " + string(body))
		reply, err := next.HandleCall(ctx, s, m, body)
		tr.add(name + " out " + string(reply))
		return reply, err
	}
}

func TestServerInterceptorsChainInOrder(t *testing.T) {
	tr := &trace{}
	srv, _ := startServer(t,
		drpc.WithInterceptor(tracing(tr, "a"), tracing(tr, "b")),
		drpc.WithInterceptor(tracing(tr, "c")))
	echo(t, connect(t, srv), "x")
	assert.Equal(t, []string{"a in echo x", "b in echo x", "c in echo x", "c out x", "b out x", "a out x"}, tr.get())
}

func TestServerInterceptorSeesSessionAndCanRefuse(t *testing.T) {
	var peer atomic.Pointer[drpc.PeerCredentials]
	refuse := func(ctx context.Context, s *drpc.Session, m drpc.Method, body []byte, next drpc.Handler) ([]byte, error) {
		creds := s.PeerCredentials()
		peer.Store(&creds)
		if strings.HasPrefix(string(body), "no") {
			return nil, drpc.NewFailure(drpc.StatusFailedUnmarshalPayload, "")
		}
		reply, err := next.HandleCall(ctx, s, m, body)
		return append([]byte("wrapped "), reply...), err
	}
	srv, _ := startServer(t, drpc.WithInterceptor(refuse))
	c := connect(t, srv)
	resp, err := c.SendMsg(context.Background(), &drpc.Call{Method: int32(methodEcho), Body: []byte("yes")})
	require.NoError(t, err)
	assert.Equal(t, "wrapped yes", string(resp.Body), "an interceptor may change the reply")
	assert.Equal(t, drpc.PeerCredentials{PID: int32(os.Getpid()), UID: uint32(os.Getuid()), GID: uint32(os.Getgid())}, *peer.Load())
	resp, err = c.SendMsg(context.Background(), &drpc.Call{Method: int32(methodEcho), Body: []byte("no")})
	require.NoError(t, err)
	assert.Equal(t, drpc.StatusFailedUnmarshalPayload, resp.Status)
	assert.Empty(t, resp.Body)
}

func TestServerInterceptorsSkipUnknownCalls(t *testing.T) {
	tr := &trace{}
	srv, _ := startServer(t, drpc.WithInterceptor(tracing(tr, "a")))
	c := connect(t, srv)
	resp, err := c.SendMsg(context.Background(), &drpc.Call{Module: 3, Method: 301})
	require.NoError(t, err)
	assert.Equal(t, drpc.StatusUnknownModule, resp.Status)
	assert.Empty(t, tr.get(), "the server answers unknown modules itself")
}

func TestClientInterceptors(t *testing.T) {
	srv, _ := startServer(t)
	tr := &trace{}
	mk := func(name string) drpc.ClientInterceptor {
		return func(ctx context.Context, call *drpc.Call, next drpc.Sender) (*drpc.Response, error) {
			tr.add(name + " in " + string(call.Body))
			resp, err := next.SendMsg(ctx, call)
			if err == nil {
				tr.add(name + " out " + string(resp.Body))
			}
			return resp, err
		}
	}
	c := connect(t, srv, drpc.WithClientInterceptor(mk("a"), mk("b")))
	ctx := context.Background()

	resp, err := c.SendMsg(ctx, &drpc.Call{Method: int32(methodEcho), Body: []byte("1")})
	require.NoError(t, err)
	assert.Equal(t, "1", string(resp.Body))

	var got string
	err = c.SendMsgFunc(ctx, &drpc.Call{Method: int32(methodEcho), Body: []byte("2")}, func(st drpc.Status, body []byte) error {
		got = string(body)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, "2", got)

	var reply testv1.EchoResponse
	require.NoError(t, drpc.Invoke(ctx, c, echoMethods[methodEcho], &testv1.EchoRequest{Payload: []byte("3")}, &reply))
	assert.Equal(t, "3", string(reply.Payload))

	assert.Equal(t, []string{
		"a in 1", "b in 1", "b out 1", "a out 1",
		"a in 2", "b in 2", "b out 2", "a out 2",
		"a in \n\x013", "b in \n\x013", "b out \n\x013", "a out \n\x013",
	}, tr.get(), "SendMsg, SendMsgFunc and Invoke (the generated clients) all go through the interceptors")
}

func TestClientInterceptorCanAnswer(t *testing.T) {
	// An interceptor may answer without calling the server at all (a
	// cache, a circuit breaker).
	tr := &trace{}
	srv, _ := startServer(t, drpc.WithInterceptor(tracing(tr, "server")))
	c := connect(t, srv, drpc.WithClientInterceptor(func(ctx context.Context, call *drpc.Call, next drpc.Sender) (*drpc.Response, error) {
		return &drpc.Response{Sequence: 99, Status: drpc.StatusFailure}, nil
	}))
	resp, err := c.SendMsg(context.Background(), &drpc.Call{Method: int32(methodEcho)})
	require.NoError(t, err)
	assert.Equal(t, drpc.StatusFailure, resp.Status)
	assert.Empty(t, tr.get(), "the server saw no call")
}

// BenchmarkInterceptors measures a 64-byte round trip (client and server
// in this process) with zero, one and three pass-through interceptors on
// each side. Zero is the plain path: the server calls the module directly
// and the client makes the round trip directly, without building a chain.
func BenchmarkInterceptors(b *testing.B) {
	pass := func(ctx context.Context, s *drpc.Session, m drpc.Method, body []byte, next drpc.Handler) ([]byte, error) {
		return next.HandleCall(ctx, s, m, body)
	}
	passClient := func(ctx context.Context, call *drpc.Call, next drpc.Sender) (*drpc.Response, error) {
		return next.SendMsg(ctx, call)
	}
	for _, n := range []int{0, 1, 3} {
		b.Run(fmt.Sprintf("%d", n), func(b *testing.B) {
			var sopts []drpc.ServerOption
			var copts []drpc.ClientOption
			for range n {
				sopts = append(sopts, drpc.WithInterceptor(pass))
				copts = append(copts, drpc.WithClientInterceptor(passClient))
			}
			srv, _ := startServer(b, sopts...)
			c := connect(b, srv, copts...)
			ctx := context.Background()
			call := &drpc.Call{Method: int32(methodEcho), Body: make([]byte, 64)}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := c.SendMsg(ctx, call); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
