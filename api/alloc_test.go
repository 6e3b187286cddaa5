package api_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	testv1drpc "github.com/cc532012/drpc/api/test/v1/testv1drpc"
	"github.com/cc532012/drpc/drpc"
	testv1 "github.com/cc532012/drpc/proto/drpc/test/v1"
)

// aliasCheck is a TestService that records whether each request's payload
// was a copy: a generated module decodes it straight from the session's
// receive buffer, which the next call reuses.
type aliasCheck struct {
	last    []byte // the previous request's payload
	aliased bool   // it shared memory with this one's: the same buffer
}

func (a *aliasCheck) Echo(_ context.Context, _ *drpc.Session, req *testv1.EchoRequest) (*testv1.EchoResponse, error) {
	p := req.GetPayload()
	a.aliased = len(a.last) > 0 && len(p) > 0 && unsafe.SliceData(a.last) == unsafe.SliceData(p)
	a.last = p // a documented misuse, to compare addresses only
	return &testv1.EchoResponse{Payload: p}, nil
}

// TestGeneratedServerAllocatesNoBody counts what the generated module
// allocates per call on the server, in a server and a client in this
// process: the client lends its replies (SendMsgFunc, which allocates
// nothing) and sends a request encoded once, so every byte allocated is
// the server's. The request's payload is not copied (it aliases the
// receive buffer) and the reply is encoded into the session's buffer (its
// payload, from 64 KiB on, sent from where it is), so the server allocates
// the two small messages (the request, and the reply the implementation
// returns) and nothing the size of the body.
func TestGeneratedServerAllocatesNoBody(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes what is allocated; run without -race (make test-alloc)")
	}
	dir, err := os.MkdirTemp("", "drpcalloc")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	path := filepath.Join(dir, "alloc.sock")
	srv, err := drpc.NewDomainSocketServer(path, drpc.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	check := new(aliasCheck)
	require.NoError(t, srv.RegisterRPCModule(testv1drpc.NewTestServiceModule(check)))
	require.NoError(t, srv.Start(t.Context()))
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	client := drpc.NewClientConnection(path)
	require.NoError(t, client.Connect(t.Context()))
	t.Cleanup(func() { _ = client.Close() })

	for _, size := range []int{64, 4 << 10, 128 << 10, 1 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			payload := bytes.Repeat([]byte{0x5a}, size)
			body, err := proto.Marshal(&testv1.EchoRequest{Payload: payload})
			require.NoError(t, err)
			call := &drpc.Call{Module: int32(testv1drpc.TestServiceModuleID), Method: int32(testv1drpc.TestServiceEchoMethodID), Body: body}
			var got int
			fn := func(st drpc.Status, reply []byte) error {
				if st != drpc.StatusSuccess {
					return drpc.NewFailure(st, "")
				}
				var r testv1.EchoResponse // decoded, not kept: its payload is a copy
				if err := proto.Unmarshal(reply, &r); err != nil {
					return err
				}
				got = len(r.Payload)
				return nil
			}
			ctx := context.Background()
			for range 3 { // grow the buffers to the body
				require.NoError(t, client.SendMsgFunc(ctx, call, fn))
			}
			const runs = 20
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			for range runs {
				if err := client.SendMsgFunc(ctx, call, func(st drpc.Status, reply []byte) error {
					if st != drpc.StatusSuccess || !bytes.Equal(reply, body) {
						return fmt.Errorf("status %v, %d-byte reply", st, len(reply))
					}
					return nil
				}); err != nil {
					t.Fatal(err)
				}
			}
			runtime.ReadMemStats(&after)
			perCall := float64(after.TotalAlloc-before.TotalAlloc) / runs
			allocs := float64(after.Mallocs-before.Mallocs) / runs
			t.Logf("server: %.0f bytes in %.1f allocations per call of %d bytes", perCall, allocs, size)
			assert.Equal(t, size, got)
			assert.True(t, check.aliased, "the request's payload is a copy, not the receive buffer")
			assert.Less(t, perCall, 512.0, "bytes allocated per call: the body is copied")
			assert.LessOrEqual(t, allocs, 2.5, "allocations per call: the request and the reply")
		})
	}
}
