package drpc_test

import (
	"bytes"
	"context"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/drpc"
	"github.com/cc532012/drpc/drpc/internal/wire"
	testv1 "github.com/cc532012/drpc/proto/drpc/test/v1"
)

func TestSendMsgOwnsItsBody(t *testing.T) {
	// SendMsg's body never aliases the receive buffer: later calls, of any
	// size, leave it alone, and changing it changes nothing else.
	srv, _ := startServer(t)
	c := connect(t, srv)
	ctx := context.Background()
	var kept [][]byte
	var want [][]byte
	for i, size := range []int{1, 100, wire.MaxChunkData + 7, 64} {
		body := bytes.Repeat([]byte{byte('a' + i)}, size)
		resp, err := c.SendMsg(ctx, &drpc.Call{Method: int32(methodEcho), Body: body})
		require.NoError(t, err)
		kept = append(kept, resp.Body)
		want = append(want, bytes.Clone(body))
	}
	for i := range kept {
		assert.True(t, bytes.Equal(want[i], kept[i]), "body %d changed after later calls", i)
	}
	kept[3][0] = 'X'
	echo(t, c, "unaffected")
}

func TestSendMsgFuncLendsTheBody(t *testing.T) {
	srv, _ := startServer(t)
	c := connect(t, srv)
	ctx := context.Background()

	var lent []byte
	err := c.SendMsgFunc(ctx, &drpc.Call{Method: int32(methodEcho), Body: []byte("first")}, func(st drpc.Status, body []byte) error {
		assert.Equal(t, drpc.StatusSuccess, st)
		assert.Equal(t, "first", string(body))
		lent = body // a documented misuse: the body is only valid inside fn
		return nil
	})
	require.NoError(t, err)
	echo(t, c, "later")
	assert.NotEqual(t, "first", string(lent), "a body kept after fn returns is overwritten by the next call")

	// fn sees failures too, and its error is returned as is.
	errStop := drpc.NewFailure(drpc.StatusFailure, "stop")
	err = c.SendMsgFunc(ctx, &drpc.Call{Method: int32(methodFail), Body: []byte{byte(drpc.StatusUnknownMethod)}}, func(st drpc.Status, body []byte) error {
		assert.Equal(t, drpc.StatusUnknownMethod, st)
		return errStop
	})
	assert.Same(t, errStop, err)
}

func TestSendMsgFuncAllocatesNothing(t *testing.T) {
	srv, _ := startServer(t)
	c := connect(t, srv)
	ctx := context.Background()
	call := &drpc.Call{Method: int32(methodEcho), Body: bytes.Repeat([]byte("x"), 4096)}
	var n int
	fn := func(st drpc.Status, body []byte) error {
		n = len(body)
		return nil
	}
	require.NoError(t, c.SendMsgFunc(ctx, call, fn)) // warm up the buffers
	allocs := testing.AllocsPerRun(100, func() {
		if err := c.SendMsgFunc(ctx, call, fn); err != nil {
			t.Fatal(err)
		}
	})
	assert.Equal(t, 4096, n)
	assert.Zero(t, allocs, "a call that lends its reply allocates nothing on the client")
}

func TestInvokeAllocatesAboutTheReply(t *testing.T) {
	// A generated client (Invoke) decodes the reply straight from the
	// receive buffer and encodes the request into a pooled buffer: per
	// call it allocates the decoded reply and a small constant, not a copy
	// of every body.
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop buffers on purpose; run without -race")
	}
	srv, _ := startServer(t)
	c := connect(t, srv)
	ctx := context.Background()
	const size = 64 << 10
	req := &testv1.EchoRequest{Payload: bytes.Repeat([]byte("p"), size)}
	m := echoMethods[methodEcho]
	var reply testv1.EchoResponse
	for range 5 { // warm up the pools and buffers
		require.NoError(t, drpc.Invoke(ctx, c, m, req, &reply))
	}
	const runs = 50
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range runs {
		reply.Reset()
		if err := drpc.Invoke(ctx, c, m, req, &reply); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	perCall := (after.TotalAlloc - before.TotalAlloc) / runs
	assert.Len(t, reply.Payload, size)
	assert.LessOrEqual(t, perCall, uint64(size+4096), "bytes allocated per call (this process runs the server too)")
	t.Logf("%d bytes allocated per call for a %d-byte reply", perCall, size)

	// The call, the request's buffer and the function that decodes the
	// lent reply are pooled: the only allocation is the reply's payload.
	allocs := testing.AllocsPerRun(runs, func() {
		reply.Reset()
		if err := drpc.Invoke(ctx, c, m, req, &reply); err != nil {
			t.Fatal(err)
		}
	})
	assert.LessOrEqual(t, allocs, 1.0, "allocations per call")
}
