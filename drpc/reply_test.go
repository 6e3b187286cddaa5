package drpc_test

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/cc532012/drpc/drpc"
	testv1 "github.com/cc532012/drpc/proto/drpc/test/v1"
	drpcv1 "github.com/cc532012/drpc/proto/drpc/v1"
)

// replyModule is module 0 with handlers that encode their replies with
// ReplyBody, as generated modules do. The request body is an EchoRequest;
// the method says what is done with the body ReplyBody returns.
type replyModule struct{}

const (
	replyReturn  drpc.MethodID = 1 // return it, as generated code does
	replyOther   drpc.MethodID = 2 // return another body
	replyFail    drpc.MethodID = 3 // return an error
	replyPanic   drpc.MethodID = 4 // panic
	replyMarshal drpc.MethodID = 5 // MarshalReply, then change its body
	replyFields  drpc.MethodID = 6 // a reply with fields besides the large one
	replyMutate  drpc.MethodID = 7 // change the request's payload after encoding
	replyBadUTF8 drpc.MethodID = 8 // a reply that does not encode
)

func (replyModule) ID() drpc.ModuleID { return 0 }
func (replyModule) String() string    { return "reply" }
func (replyModule) GetMethod(id drpc.MethodID) (drpc.Method, error) {
	if id < replyReturn || id > replyBadUTF8 {
		return nil, drpc.NewFailure(drpc.StatusUnknownMethod, "")
	}
	return drpc.NewMethod(0, id, "reply"), nil
}

func (replyModule) HandleCall(_ context.Context, s *drpc.Session, m drpc.Method, body []byte) ([]byte, error) {
	req := new(testv1.EchoRequest)
	if err := drpc.UnmarshalRequest(m, body, req); err != nil {
		return nil, err
	}
	var reply proto.Message = &testv1.EchoResponse{Payload: req.Payload}
	switch m.ID() {
	case replyFields:
		reply = &drpcv1.Response{Sequence: 42, Status: drpc.StatusSubmitted, Body: req.Payload}
	case replyBadUTF8:
		reply = &anypb.Any{TypeUrl: "\xff", Value: req.Payload}
	}
	out, err := drpc.ReplyBody(s, m, reply)
	switch m.ID() {
	case replyOther:
		return []byte("another body"), err
	case replyFail:
		return out, drpc.NewFailure(drpc.StatusFailure, "failed after encoding")
	case replyPanic:
		panic("after encoding")
	case replyMarshal:
		out, err = drpc.MarshalReply(s, m, reply)
		return append(out[:0:0], out...), err
	case replyMutate:
		// A documented misuse, to see where the payload is sent from: a
		// lent field is read after HandleCall returns.
		req.Payload[0] ^= 0xff
	}
	return out, err
}

// finishedSizes is a Stats that records the reply sizes it is told.
type finishedSizes struct {
	mu    sync.Mutex
	sizes []int
}

func (f *finishedSizes) CallStarted(drpc.Method, int) {}
func (f *finishedSizes) CallFinished(_ drpc.Method, _ drpc.Status, _ time.Duration, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sizes = append(f.sizes, n)
}
func (f *finishedSizes) ServerEvent(drpc.ServerEvent) {}

// count returns how many calls were reported finished.
func (f *finishedSizes) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.sizes)
}

// nth returns the size reported for the nth call (from 1).
func (f *finishedSizes) nth(n int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sizes[n-1]
}

func TestReplyBody(t *testing.T) {
	passThrough := func(ctx context.Context, s *drpc.Session, m drpc.Method, body []byte, next drpc.Handler) ([]byte, error) {
		return next.HandleCall(ctx, s, m, body)
	}
	for _, setup := range []struct {
		name string
		opts []drpc.ServerOption
	}{
		{"plain", nil},
		{"with an interceptor", []drpc.ServerOption{drpc.WithInterceptor(passThrough)}},
	} {
		t.Run(setup.name, func(t *testing.T) {
			stats := new(finishedSizes)
			srv, err := drpc.NewDomainSocketServer(socketPath(t), append([]drpc.ServerOption{
				drpc.WithLogger(slog.New(slog.DiscardHandler)), drpc.WithStats(stats)}, setup.opts...)...)
			require.NoError(t, err)
			require.NoError(t, srv.RegisterRPCModule(replyModule{}))
			require.NoError(t, srv.Start(t.Context()))
			t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
			c := connect(t, srv)

			calls := 0 // made so far, for Stats
			for _, size := range []int{10, 64 << 10, 300_000, 2 << 20} {
				payload := bytes.Repeat([]byte{byte(size)}, size)
				body, err := proto.Marshal(&testv1.EchoRequest{Payload: payload})
				require.NoError(t, err)
				call := func(m drpc.MethodID) *drpc.Response {
					resp, err := c.SendMsg(t.Context(), &drpc.Call{Method: int32(m), Body: body})
					require.NoError(t, err)
					return resp
				}

				calls++
				resp := call(replyReturn)
				require.Equal(t, drpc.StatusSuccess, resp.Status)
				var echoed testv1.EchoResponse
				require.NoError(t, proto.Unmarshal(resp.Body, &echoed))
				assert.True(t, bytes.Equal(payload, echoed.Payload), "size %d: the reply is the request's payload", size)
				// Stats hears of a call once its answer is sent.
				eventually(t, func() bool { return stats.count() >= calls })
				assert.Equal(t, len(resp.Body), stats.nth(calls), "size %d: Stats sees the whole reply", size)

				calls++
				resp = call(replyFields)
				var fields drpcv1.Response
				require.NoError(t, proto.Unmarshal(resp.Body, &fields))
				assert.True(t, proto.Equal(&drpcv1.Response{Sequence: 42, Status: drpc.StatusSubmitted, Body: payload}, &fields), "size %d", size)

				calls++
				resp = call(replyOther)
				assert.Equal(t, "another body", string(resp.Body), "size %d: a body other than ReplyBody's is sent as it is", size)

				calls++
				resp = call(replyFail)
				assert.Equal(t, drpc.StatusFailure, resp.Status)
				assert.Equal(t, "failed after encoding", string(resp.Body), "size %d", size)

				calls++
				resp = call(replyPanic)
				assert.Equal(t, drpc.StatusFailure, resp.Status)
				assert.Empty(t, resp.Body)

				calls++
				resp = call(replyMarshal)
				require.NoError(t, proto.Unmarshal(resp.Body, &echoed))
				assert.True(t, bytes.Equal(payload, echoed.Payload), "size %d: MarshalReply's body is whole", size)

				calls++
				resp = call(replyBadUTF8)
				assert.Equal(t, drpc.StatusFailedMarshal, resp.Status, "size %d", size)

				calls++
				resp = call(replyMutate)
				require.NoError(t, proto.Unmarshal(resp.Body, &echoed))
				lent := size >= 64<<10 && setup.opts == nil
				assert.Equal(t, lent, echoed.Payload[0] != payload[0],
					"size %d: the payload is sent from the request (lent) only if large and without interceptors", size)

				// After each of those, a call that returns ReplyBody's body
				// is whole again.
				calls++
				resp = call(replyReturn)
				require.NoError(t, proto.Unmarshal(resp.Body, &echoed))
				assert.True(t, bytes.Equal(payload, echoed.Payload), "size %d", size)
			}
		})
	}
}

func TestReplyBodyWithoutSession(t *testing.T) {
	m := drpc.NewMethod(0, 1, "echo")
	payload := bytes.Repeat([]byte{3}, 200_000)
	body, err := drpc.ReplyBody(nil, m, &testv1.EchoResponse{Payload: payload})
	require.NoError(t, err)
	want, err := proto.Marshal(&testv1.EchoResponse{Payload: payload})
	require.NoError(t, err)
	assert.Equal(t, want, body, "without a session the body is the whole encoding")

	body, err = drpc.ReplyBody(nil, m, (*testv1.EchoResponse)(nil))
	require.NoError(t, err)
	assert.Empty(t, body)
}

func TestInvokeSendsLargeFieldsWhole(t *testing.T) {
	// A request with a large bytes field is sent with the field read from
	// where it is (no interceptors) or copied into the body (with one):
	// the echo module returns the body it got, which decodes as the
	// request, whole.
	seen := 0
	count := func(ctx context.Context, call *drpc.Call, next drpc.Sender) (*drpc.Response, error) {
		seen++
		return next.SendMsg(ctx, call)
	}
	srv, _ := startServer(t)
	for _, c := range []*drpc.ClientConnection{connect(t, srv), connect(t, srv, drpc.WithClientInterceptor(count))} {
		m := echoMethods[methodEcho]
		for _, size := range []int{100, 64 << 10, 300_000} {
			payload := bytes.Repeat([]byte{byte(size)}, size)
			for _, req := range []proto.Message{
				&testv1.EchoRequest{Payload: payload},
				&drpcv1.Call{Module: 7, Method: 701, Sequence: -3, Body: payload},
				&anypb.Any{TypeUrl: "type.googleapis.com/x.Y", Value: payload},
			} {
				reply := req.ProtoReflect().New().Interface()
				require.NoError(t, drpc.Invoke(t.Context(), c, m, req, reply))
				assert.True(t, proto.Equal(req, reply), "%T of %d bytes", req, size)
			}
		}
		bad := &anypb.Any{TypeUrl: "\xff", Value: bytes.Repeat([]byte{1}, 100_000)}
		err := drpc.Invoke(t.Context(), c, m, bad, new(anypb.Any))
		assert.ErrorContains(t, err, "encode request", "a request that does not encode is not sent")
	}
	assert.Equal(t, 9, seen, "the interceptor saw every call but the one not sent")
}
