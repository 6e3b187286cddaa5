package drpc_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/drpc"
)

// A client that waits for its answers in the kernel (WithKernelWait):
// calls of every size, and the ways out of a wait far longer than the
// test, which must not have to wait for it to end.

func TestKernelWaitCalls(t *testing.T) {
	srv, _ := startServer(t)
	for _, wait := range []time.Duration{time.Millisecond, 0, time.Minute} {
		c := connect(t, srv, drpc.WithKernelWait(wait))
		for _, size := range []int{0, 64, 4 << 10, 200 << 10, 3 << 20} {
			body := bytes.Repeat([]byte{byte(size)}, size)
			resp, err := c.SendMsg(context.Background(), &drpc.Call{Method: int32(methodEcho), Body: body})
			require.NoError(t, err, "kernel wait %v, %d bytes", wait, size)
			assert.True(t, bytes.Equal(body, resp.Body), "kernel wait %v, %d bytes: the echo", wait, size)
		}
	}
}

func TestKernelWaitInterruptions(t *testing.T) {
	tests := []struct {
		name      string
		timeout   time.Duration // the call's context; 0 for none
		interrupt func(t *testing.T, c *drpc.ClientConnection)
		is        error
	}{
		{
			name:      "Close",
			interrupt: func(t *testing.T, c *drpc.ClientConnection) { require.NoError(t, c.Close()) },
			is:        drpc.ErrConnectionClosed,
		},
		{
			name:    "a deadline closer than the wait",
			timeout: 50 * time.Millisecond,
			is:      context.DeadlineExceeded,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, mod := startServer(t)
			defer close(mod.block)
			c := connect(t, srv, drpc.WithKernelWait(time.Minute))
			ctx := context.Background()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			before := mod.started.Load()
			out := make(chan callResult, 1)
			go func() {
				resp, err := c.SendMsg(ctx, &drpc.Call{Method: int32(methodBlock)})
				out <- callResult{resp, err}
			}()
			eventually(t, func() bool { return mod.started.Load() > before }, "the handler should be running")
			if tc.interrupt != nil {
				tc.interrupt(t, c)
			}
			res := receive(t, out, "the interrupted call")
			require.ErrorIs(t, res.err, tc.is)
			assert.False(t, c.IsConnected())
		})
	}
}

func TestKernelWaitCancel(t *testing.T) {
	// A cancelled call notices within the wait's window.
	srv, mod := startServer(t)
	defer close(mod.block)
	c := connect(t, srv, drpc.WithKernelWait(time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	before := mod.started.Load()
	out := make(chan callResult, 1)
	go func() {
		resp, err := c.SendMsg(ctx, &drpc.Call{Method: int32(methodBlock)})
		out <- callResult{resp, err}
	}()
	eventually(t, func() bool { return mod.started.Load() > before }, "the handler should be running")
	cancel()
	res := receive(t, out, "the cancelled call")
	require.ErrorIs(t, res.err, context.Canceled)
}
