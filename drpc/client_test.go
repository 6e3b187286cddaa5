package drpc_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/cc532012/drpc/drpc"
	"github.com/cc532012/drpc/drpc/internal/wire"
)

func TestClientNotConnected(t *testing.T) {
	srv, _ := startServer(t)
	c := drpc.NewClientConnection(srv.SocketPath())
	assert.False(t, c.IsConnected())
	assert.Equal(t, srv.SocketPath(), c.SocketPath())

	_, err := c.SendMsg(context.Background(), &drpc.Call{Method: int32(methodEcho)})
	require.ErrorIs(t, err, drpc.ErrNotConnected)
	assert.Contains(t, err.Error(), srv.SocketPath())
	assert.NoError(t, c.Close(), "closing an unconnected client does nothing")
}

func TestClientConnectFails(t *testing.T) {
	stale := socketPath(t)
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: stale, Net: "unixpacket"})
	require.NoError(t, err)
	ln.SetUnlinkOnClose(false)
	require.NoError(t, ln.Close())
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	srv, _ := startServer(t)

	expired, cancelExpired := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancelExpired()

	tests := []struct {
		name string
		path string
		ctx  context.Context
		is   error  // what the error wraps, if anything in particular
		says string // what the message says
	}{
		{"missing socket", socketPath(t), context.Background(), syscall.ENOENT, "is it running"},
		{"nobody listening", stale, context.Background(), syscall.ECONNREFUSED, "is it running"},
		{"context ended", srv.SocketPath(), cancelled, context.Canceled, "gave up"},
		{"deadline passed", srv.SocketPath(), expired, context.DeadlineExceeded, "gave up"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := drpc.NewClientConnection(tc.path)
			err := c.Connect(tc.ctx)
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.is)
			assert.Contains(t, err.Error(), tc.says)
			assert.Contains(t, err.Error(), tc.path)
			assert.False(t, c.IsConnected())
			_, err = c.SendMsg(context.Background(), &drpc.Call{})
			assert.ErrorIs(t, err, drpc.ErrNotConnected)
		})
	}
}

func TestClientConnectTwice(t *testing.T) {
	srv, _ := startServer(t)
	c := connect(t, srv)
	echo(t, c, "one")
	require.NoError(t, c.Connect(context.Background()), "connecting a connected client is fine")
	assert.True(t, c.IsConnected())
	resp, err := c.SendMsg(context.Background(), &drpc.Call{Method: int32(methodEcho)})
	require.NoError(t, err)
	assert.Equal(t, int64(2), resp.Sequence, "the second Connect keeps the connection")
	assert.Equal(t, 1, srv.NumSessions())
}

func TestClientSequenceNumbers(t *testing.T) {
	srv, _ := startServer(t)
	c := connect(t, srv)
	for round := range 3 {
		for want := int64(1); want <= 5; want++ {
			resp, err := c.SendMsg(context.Background(), &drpc.Call{Method: int32(methodEcho)})
			require.NoError(t, err)
			assert.Equal(t, want, resp.Sequence, "round %d", round)
		}
		// A failed call uses up a number as well.
		resp, err := c.SendMsg(context.Background(), &drpc.Call{Module: 9, Method: 901})
		require.NoError(t, err)
		assert.Equal(t, int64(6), resp.Sequence)

		require.NoError(t, c.Close())
		assert.False(t, c.IsConnected())
		require.NoError(t, c.Connect(context.Background()))
		assert.True(t, c.IsConnected())
	}
}

func TestClientLeavesCallAlone(t *testing.T) {
	srv, _ := startServer(t)
	c := connect(t, srv)
	body := []byte("caller's bytes")
	call := &drpc.Call{Method: int32(methodEcho), Sequence: 999, Body: body}
	for want := int64(1); want <= 3; want++ {
		resp, err := c.SendMsg(context.Background(), call)
		require.NoError(t, err)
		assert.Equal(t, want, resp.Sequence, "the connection numbers calls, not the caller")
		assert.Equal(t, int64(999), call.Sequence, "call.Sequence is left unchanged")
		assert.Equal(t, "caller's bytes", string(call.Body))
		assert.Same(t, &body[0], &call.Body[0])
	}
}

func TestClientResponsesAreTheCallers(t *testing.T) {
	// A response's body must not change when later calls reuse the
	// client's buffers.
	srv, _ := startServer(t)
	c := connect(t, srv)
	var resps []*drpc.Response
	for i := range 5 {
		resp, err := c.SendMsg(context.Background(), &drpc.Call{Method: int32(methodEcho), Body: bytes.Repeat([]byte{byte('a' + i)}, 100)})
		require.NoError(t, err)
		resps = append(resps, resp)
	}
	for i, resp := range resps {
		assert.Equal(t, bytes.Repeat([]byte{byte('a' + i)}, 100), resp.Body, "response %d", i)
	}
}

func TestClientNilCall(t *testing.T) {
	srv, _ := startServer(t)
	c := connect(t, srv)
	resp, err := c.SendMsg(context.Background(), nil)
	require.Error(t, err)
	assert.Nil(t, resp)
	assert.Contains(t, err.Error(), "call is nil")
	assert.True(t, c.IsConnected(), "a nil call sends nothing and breaks nothing")
	echo(t, c, "fine")

	unconnected := drpc.NewClientConnection(srv.SocketPath())
	_, err = unconnected.SendMsg(context.Background(), nil)
	assert.Error(t, err)
}

func TestClientContextEndedBeforeSend(t *testing.T) {
	srv, _ := startServer(t)
	c := connect(t, srv)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.SendMsg(ctx, &drpc.Call{Method: int32(methodEcho)})
	require.ErrorIs(t, err, context.Canceled)
	assert.True(t, c.IsConnected(), "nothing was sent: the connection is still good")
	resp, err := c.SendMsg(context.Background(), &drpc.Call{Method: int32(methodEcho)})
	require.NoError(t, err)
	assert.Equal(t, int64(1), resp.Sequence, "the refused call used no sequence number")
}

func TestClientCloseTwice(t *testing.T) {
	srv, _ := startServer(t)
	c := connect(t, srv)
	require.NoError(t, c.Close())
	require.NoError(t, c.Close())
	assert.False(t, c.IsConnected())
	sessionsDropTo(t, srv, 0)
}

func TestClientAfterServerGone(t *testing.T) {
	srv, _ := startServer(t)
	path := srv.SocketPath()
	c := connect(t, srv)
	echo(t, c, "before")
	require.NoError(t, srv.Shutdown(context.Background()))

	_, err := c.SendMsg(context.Background(), &drpc.Call{Method: int32(methodEcho)})
	require.Error(t, err)
	assert.False(t, c.IsConnected())
	assert.Error(t, c.Connect(context.Background()), "nobody listens any more")

	// A new server on the same path: the client connects again and
	// numbers its calls from 1.
	again := newServer(t, path, 0o600)
	require.NoError(t, again.Start(context.Background()))
	require.NoError(t, c.Connect(context.Background()))
	resp, err := c.SendMsg(context.Background(), &drpc.Call{Method: int32(methodEcho)})
	require.NoError(t, err)
	assert.Equal(t, int64(1), resp.Sequence)
}

func TestClientSharedByGoroutines(t *testing.T) {
	srv, _ := startServer(t)
	c := connect(t, srv)
	const (
		goroutines = 20
		calls      = 25
	)
	seqs := make(chan int64, goroutines*calls)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range calls {
				body := fmt.Sprintf("goroutine %d call %d", g, i)
				if g%5 == 0 { // some calls span chunks
					body += string(make([]byte, 200_000))
				}
				resp, err := c.SendMsg(context.Background(), &drpc.Call{Method: int32(methodEcho), Body: []byte(body)})
				if !assert.NoError(t, err) {
					return
				}
				assert.Equal(t, drpc.StatusSuccess, resp.Status)
				assert.Equal(t, body, string(resp.Body), "every response matches its own call")
				seqs <- resp.Sequence
			}
		})
	}
	wg.Wait()
	close(seqs)
	seen := make(map[int64]bool)
	for s := range seqs {
		assert.False(t, seen[s], "sequence %d used twice", s)
		seen[s] = true
	}
	require.Len(t, seen, goroutines*calls)
	for s := int64(1); s <= goroutines*calls; s++ {
		assert.True(t, seen[s], "sequence %d missing", s)
	}
	assert.Equal(t, 1, srv.NumSessions(), "one connection carries every call")
}

func TestCloseInterruptsCallInFlight(t *testing.T) {
	// Close ends a call in progress at once, even with a context that never
	// ends and a server that does not answer; the call says why.
	srv, mod := startServer(t)
	c := connect(t, srv)
	inFlight := blockingCall(t, c, mod) // the handler blocks until released
	defer close(mod.block)

	start := time.Now()
	require.NoError(t, c.Close())
	res := receive(t, inFlight, "the interrupted call")
	t.Logf("the call ended %v after Close", time.Since(start))
	require.ErrorIs(t, res.err, drpc.ErrConnectionClosed)
	assert.Contains(t, res.err.Error(), "interrupted")
	assert.Equal(t, int32(1), mod.blocked.Load(), "the call ended while its handler was still running")
	assert.False(t, c.IsConnected())

	// The client can connect again and call.
	require.NoError(t, c.Connect(context.Background()))
	echo(t, c, "after reconnect")
}

func TestCloseDuringCallsFromManyGoroutines(t *testing.T) {
	// Close while calls run and wait from many goroutines: every call
	// returns, none hangs or races.
	srv, _ := startServer(t)
	c := connect(t, srv)
	var wg sync.WaitGroup
	var answered atomic.Int32
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if _, err := c.SendMsg(context.Background(), &drpc.Call{Method: int32(methodEcho), Body: []byte("x")}); err == nil {
					answered.Add(1)
				}
			}
		})
	}
	eventually(t, func() bool { return answered.Load() > 0 }, "calls are under way")
	require.NoError(t, c.Close())
	wg.Wait()
}

// fakeServer listens on a fresh socket and runs answer for every call a
// client makes, for testing the client against a misbehaving server.
func fakeServer(t *testing.T, answer func(c *net.UnixConn, call *drpc.Call)) string {
	t.Helper()
	path := socketPath(t)
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	require.NoError(t, err)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []*net.UnixConn
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.AcceptUnix()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				recv := wire.NewReceiver(c, 0)
				for {
					msg, err := recv.ReadMessage()
					if err != nil {
						return
					}
					call := new(drpc.Call)
					if proto.Unmarshal(msg, call) != nil {
						return
					}
					answer(c, call)
				}
			})
		}
	})
	return path
}

// answerWith returns an answer function that sends resp, built from the
// call, as a well-formed message.
func answerWith(resp func(call *drpc.Call) *drpc.Response) func(*net.UnixConn, *drpc.Call) {
	return func(c *net.UnixConn, call *drpc.Call) {
		b, err := proto.Marshal(resp(call))
		if err != nil {
			panic(err)
		}
		_ = writePackets(c, messagePackets(b)...)
	}
}

func TestClientAgainstBadServer(t *testing.T) {
	tests := []struct {
		name   string
		answer func(c *net.UnixConn, call *drpc.Call)
		opts   []drpc.ClientOption
		check  func(t *testing.T, err error)
	}{
		{"wrong sequence", answerWith(func(call *drpc.Call) *drpc.Response {
			return &drpc.Response{Sequence: call.Sequence + 1}
		}), nil, func(t *testing.T, err error) {
			assert.ErrorIs(t, err, drpc.ErrSequenceMismatch)
			assert.Contains(t, err.Error(), "sent 1, received 2")
		}},
		{"sequence -1", answerWith(func(*drpc.Call) *drpc.Response {
			return &drpc.Response{Sequence: -1, Status: drpc.StatusFailedUnmarshalCall}
		}), nil, func(t *testing.T, err error) {
			assert.ErrorIs(t, err, drpc.ErrSequenceMismatch)
		}},
		{"garbage packet", func(c *net.UnixConn, _ *drpc.Call) {
			_, _ = c.Write([]byte("garbage"))
		}, nil, func(t *testing.T, err error) {
			assert.ErrorIs(t, err, drpc.ErrMalformedPacket)
		}},
		{"well-framed garbage", func(c *net.UnixConn, _ *drpc.Call) {
			_ = writePackets(c, messagePackets([]byte{0xff, 0xff, 0xff})...)
		}, nil, func(t *testing.T, err error) {
			assert.Contains(t, err.Error(), "does not decode")
		}},
		{"hang-up instead of an answer", func(c *net.UnixConn, _ *drpc.Call) {
			_ = c.Close()
		}, nil, func(t *testing.T, err error) {
			assert.ErrorIs(t, err, io.EOF)
		}},
		{"hang-up mid-answer", func(c *net.UnixConn, _ *drpc.Call) {
			_ = writePackets(c, messagePackets(make([]byte, threeChunks))[0])
			_ = c.Close()
		}, nil, func(t *testing.T, err error) {
			assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
		}},
		{"C-style empty answer", func(c *net.UnixConn, _ *drpc.Call) {
			// A 0-byte response (sequence 0, SUCCESS) as the C library sends
			// it. Its framing is accepted; its sequence cannot match a Go
			// client's, which starts at 1.
			_ = writePackets(c, chunkPacket(wire.Header{}, nil))
		}, nil, func(t *testing.T, err error) {
			assert.NotErrorIs(t, err, drpc.ErrMalformedPacket, "the header-only packet is a valid empty message")
			assert.ErrorIs(t, err, drpc.ErrSequenceMismatch)
			assert.Contains(t, err.Error(), "received 0")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := drpc.NewClientConnection(fakeServer(t, tc.answer), tc.opts...)
			require.NoError(t, c.Connect(context.Background()))
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
			defer cancel()
			resp, err := c.SendMsg(ctx, &drpc.Call{Method: 1})
			require.Error(t, err)
			assert.Nil(t, resp)
			tc.check(t, err)
			assert.False(t, c.IsConnected(), "the client must close a connection it cannot trust")
			_, err = c.SendMsg(ctx, &drpc.Call{Method: 1})
			assert.ErrorIs(t, err, drpc.ErrNotConnected)
		})
	}
}

func TestClientDropsOversizeAnswer(t *testing.T) {
	// A whole response above the client's limit is dropped without being
	// buffered; the connection is still in step, so it stays open and the
	// next call works.
	var calls atomic.Int32
	path := fakeServer(t, func(c *net.UnixConn, call *drpc.Call) {
		body := []byte("small")
		if calls.Add(1) == 1 {
			body = make([]byte, 1<<20)
		}
		answerWith(func(call *drpc.Call) *drpc.Response {
			return &drpc.Response{Sequence: call.Sequence, Body: body}
		})(c, call)
	})
	c := drpc.NewClientConnection(path, drpc.WithMaxMessageSize(1<<20))
	require.NoError(t, c.Connect(context.Background()))
	defer c.Close()
	_, err := c.SendMsg(context.Background(), &drpc.Call{Method: 1})
	require.ErrorIs(t, err, drpc.ErrMessageTooLarge)
	assert.Contains(t, err.Error(), "raise the client's WithMaxMessageSize")
	assert.True(t, c.IsConnected())
	resp, err := c.SendMsg(context.Background(), &drpc.Call{Method: 1})
	require.NoError(t, err)
	assert.Equal(t, "small", string(resp.Body))
	assert.Equal(t, int64(2), resp.Sequence)
}

func TestClientAcceptsGoodFakeServer(t *testing.T) {
	// The fake server itself answers correctly when asked to, so the
	// failures above are the client's reactions to the answers.
	path := fakeServer(t, answerWith(func(call *drpc.Call) *drpc.Response {
		return &drpc.Response{Sequence: call.Sequence, Body: call.Body}
	}))
	c := drpc.NewClientConnection(path)
	require.NoError(t, c.Connect(context.Background()))
	defer c.Close()
	resp, err := c.SendMsg(context.Background(), &drpc.Call{Method: 1, Body: []byte("hi")})
	require.NoError(t, err)
	assert.Equal(t, "hi", string(resp.Body))
	assert.True(t, c.IsConnected())
}

func TestClientAgainstSilentServer(t *testing.T) {
	tests := []struct {
		name     string
		deadline time.Duration // of the call's context, if > 0
		cancel   bool          // cancel the context once the call arrived
		wantErr  error
	}{
		{"deadline", 50 * time.Millisecond, false, context.DeadlineExceeded},
		{"cancel", 0, true, context.Canceled},
		{"cancel before a deadline", time.Hour, true, context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			received := make(chan struct{}, 1)
			path := fakeServer(t, func(*net.UnixConn, *drpc.Call) { received <- struct{}{} })
			c := drpc.NewClientConnection(path)
			require.NoError(t, c.Connect(context.Background()))
			defer c.Close()
			ctx, cancel := context.WithCancel(context.Background())
			if tc.deadline > 0 {
				ctx, cancel = context.WithTimeout(context.Background(), tc.deadline)
			}
			defer cancel()

			errc := make(chan error, 1)
			go func() {
				_, err := c.SendMsg(ctx, &drpc.Call{Method: 1})
				errc <- err
			}()
			if tc.cancel {
				receive(t, received, "the call at the server")
				cancel()
			}
			err := receive(t, errc, "SendMsg to return after its context ended")
			require.ErrorIs(t, err, tc.wantErr)
			assert.Contains(t, err.Error(), "connection closed")
			assert.False(t, c.IsConnected())
		})
	}
}
