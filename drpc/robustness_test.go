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

// Every misbehaving peer below costs the server only its own session: the
// other sessions keep working, the session count drops back, and the
// server still accepts connections.

func TestClientDisconnectsMidCall(t *testing.T) {
	tests := []struct {
		name       string
		disconnect func(t *testing.T, srv *drpc.DomainSocketServer, mod *echoModule)
	}{
		{"raw connection closed while the handler runs", func(t *testing.T, srv *drpc.DomainSocketServer, mod *echoModule) {
			c := dialPacket(t, srv.SocketPath())
			require.NoError(t, writePackets(c, messagePackets(marshalCall(t, &drpc.Call{Method: int32(methodBlock), Sequence: 1}))...))
			eventually(t, func() bool { return mod.blocked.Load() == 1 }, "the handler should be running")
			require.NoError(t, c.Close())
		}},
		{"client call cancelled while the handler runs", func(t *testing.T, srv *drpc.DomainSocketServer, mod *echoModule) {
			c := connect(t, srv)
			ctx, cancel := context.WithCancel(context.Background())
			errc := make(chan error, 1)
			go func() {
				_, err := c.SendMsg(ctx, &drpc.Call{Method: int32(methodBlock)})
				errc <- err
			}()
			eventually(t, func() bool { return mod.blocked.Load() == 1 }, "the handler should be running")
			cancel()
			require.ErrorIs(t, <-errc, context.Canceled)
			assert.False(t, c.IsConnected(), "a cancelled call closes the connection")
		}},
		{"after 1 of 3 chunks", func(t *testing.T, srv *drpc.DomainSocketServer, _ *echoModule) {
			c := dialPacket(t, srv.SocketPath())
			msg := marshalCall(t, &drpc.Call{Method: int32(methodEcho), Sequence: 1, Body: make([]byte, threeChunks)})
			require.NoError(t, writePackets(c, messagePackets(msg)[0]))
			require.NoError(t, c.Close())
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, mod := startServer(t)
			other := connect(t, srv)
			echo(t, other, "before")

			tc.disconnect(t, srv, mod)

			// The handler learns that its client is gone, and the session
			// ends.
			eventually(t, func() bool { return mod.blocked.Load() == 0 }, "the handler's context should end when its client hangs up")
			sessionsDropTo(t, srv, 1)
			echo(t, other, "after")
			serverWorks(t, srv)
		})
	}
}

func TestHandlerContextEndsWhenClientHangsUp(t *testing.T) {
	srv, mod := startServer(t)
	c := dialPacket(t, srv.SocketPath())
	require.NoError(t, writePackets(c, messagePackets(marshalCall(t, &drpc.Call{Method: int32(methodBlock), Sequence: 1}))...))
	eventually(t, func() bool { return mod.blocked.Load() == 1 })
	require.NoError(t, c.Close())
	eventually(t, func() bool { return mod.ctxEnded.Load() == 1 }, "the handler's context should be cancelled")
	sessionsDropTo(t, srv, 0)
}

// TestSlowCallKeepsItsSession checks that watching a long call for a hang-up
// neither ends it nor eats the session's next call.
func TestSlowCallKeepsItsSession(t *testing.T) {
	srv, mod := startServer(t)
	c := connect(t, srv)
	done := make(chan error, 1)
	go func() {
		resp, err := c.SendMsg(context.Background(), &drpc.Call{Method: int32(methodBlock)})
		if err == nil && string(resp.Body) != "done" {
			err = fmt.Errorf("unexpected reply %q", resp.Body)
		}
		done <- err
	}()
	eventually(t, func() bool { return mod.blocked.Load() == 1 })
	time.Sleep(3 * drpc.HangupWatchDelay) // long enough for the watch to start
	close(mod.block)
	require.NoError(t, <-done)
	assert.Equal(t, int32(0), mod.ctxEnded.Load(), "the client stayed: the call's context must not end")
	echo(t, c, "next call on the same session")
}

func TestClientSendsGarbage(t *testing.T) {
	three := wire.Header{TotalDataSize: threeChunks, ChunkDataSize: wire.MaxChunkData, TotalChunks: 3}
	full := make([]byte, wire.MaxChunkData)
	tests := []struct {
		name    string
		packets [][]byte
	}{
		{"text", [][]byte{[]byte("GET / HTTP/1.1\r\n\r\n")}},
		{"packet shorter than a header", [][]byte{{1, 2, 3}}},
		{"empty packet", [][]byte{{}}},
		{"total_chunks 0 with data", [][]byte{chunkPacket(wire.Header{TotalDataSize: 3, ChunkDataSize: 3}, []byte("abc"))}},
		{"wrong total_chunks", [][]byte{chunkPacket(wire.Header{TotalDataSize: 3, ChunkDataSize: 3, TotalChunks: 7}, []byte("abc"))}},
		{"length mismatch", [][]byte{chunkPacket(wire.Header{TotalDataSize: 3, ChunkDataSize: 3, TotalChunks: 1}, []byte("abcd"))}},
		{"chunk out of order", [][]byte{chunkPacket(three, full), chunkPacket(wire.Header{TotalDataSize: threeChunks, ChunkDataSize: 10, ChunkIdx: 2, TotalChunks: 3}, full[:10])}},
		{"total changes", [][]byte{chunkPacket(three, full), chunkPacket(wire.Header{TotalDataSize: threeChunks + 1, ChunkDataSize: wire.MaxChunkData, ChunkIdx: 1, TotalChunks: 3}, full)}},
		{"packet above 131072 bytes", [][]byte{chunkPacket(three, make([]byte, wire.MaxChunkData+100))}},
		{"random bytes", [][]byte{bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 100)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := startServer(t)
			other := connect(t, srv)
			c := dialPacket(t, srv.SocketPath())
			_ = writePackets(c, tc.packets...)
			waitClosed(t, c)
			sessionsDropTo(t, srv, 1)
			echo(t, other, "unharmed")
			serverWorks(t, srv)
		})
	}
}

func TestClientStopsMidMessage(t *testing.T) {
	srv, _ := startServer(t)
	silent := dialPacket(t, srv.SocketPath())
	msg := marshalCall(t, &drpc.Call{Method: int32(methodEcho), Sequence: 1, Body: make([]byte, threeChunks)})
	require.NoError(t, writePackets(silent, messagePackets(msg)[0]))

	// The server waits for the rest without holding anyone else up.
	other := connect(t, srv)
	echo(t, other, "served meanwhile")
	serverWorks(t, srv)
	sessionsDropTo(t, srv, 2) // the silent client keeps its session

	require.NoError(t, silent.Close())
	sessionsDropTo(t, srv, 1)
	echo(t, other, "still served")
}

func TestCallThatDoesNotDecode(t *testing.T) {
	tests := []struct {
		name string
		msg  []byte
	}{
		{"truncated tag", []byte{0xff}},
		{"truncated varint", []byte{0x08, 0x80}},
		{"field number 0", []byte{0x00, 0x01}},
		{"body longer than the message", []byte{0x22, 0x10, 'a'}},
		{"invalid wire type", []byte{0x0f, 0x00}},
	}
	srv, _ := startServer(t)
	c := dialPacket(t, srv.SocketPath())
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Error(t, proto.Unmarshal(tc.msg, new(drpc.Call)), "the test message must not decode")
			require.NoError(t, writePackets(c, messagePackets(tc.msg)...))
			resp := readResponse(t, c)
			assert.Equal(t, int64(-1), resp.Sequence)
			assert.Equal(t, drpc.StatusFailedUnmarshalCall, resp.Status)
			assert.Empty(t, resp.Body)

			// The session goes on.
			require.NoError(t, writePackets(c, messagePackets(marshalCall(t, &drpc.Call{Method: int32(methodEcho), Sequence: 42, Body: []byte("ok")}))...))
			resp = readResponse(t, c)
			assert.Equal(t, int64(42), resp.Sequence)
			assert.Equal(t, drpc.StatusSuccess, resp.Status)
			assert.Equal(t, "ok", string(resp.Body))
		})
	}
}

func TestEmptyCalls(t *testing.T) {
	// Call{0, 0, 0} marshals to nothing. The Go peers send it as one packet
	// with total_chunks 1, the C library as a header-only packet with
	// total_chunks 0; the server answers both (method 0 is nobody's).
	srv, _ := startServer(t)
	c := dialPacket(t, srv.SocketPath())
	for name, p := range map[string][]byte{
		"Go style": chunkPacket(wire.Header{TotalChunks: 1}, nil),
		"C style":  chunkPacket(wire.Header{}, nil),
	} {
		require.NoError(t, writePackets(c, p), name)
		resp := readResponse(t, c)
		assert.Equal(t, int64(0), resp.Sequence, name)
		assert.Equal(t, drpc.StatusUnknownMethod, resp.Status, name)
	}
}

func TestOversizeMessage(t *testing.T) {
	const limit = 1000
	srv, _ := startServer(t, drpc.WithMaxMessageSize(limit))
	other := connect(t, srv)

	t.Run("announced but never sent", func(t *testing.T) {
		// A header that announces a message the framing cannot carry is
		// malformed: the session is closed.
		c := dialPacket(t, srv.SocketPath())
		_ = writePackets(c, chunkPacket(wire.Header{TotalDataSize: 1 << 40, ChunkDataSize: 3, TotalChunks: 1}, []byte("abc")))
		waitClosed(t, c)
		sessionsDropTo(t, srv, 1)
	})
	for _, over := range []int{1, 2 * wire.MaxChunkData} {
		t.Run(fmt.Sprintf("%d bytes over the limit", over), func(t *testing.T) {
			// The server drops the call without buffering it and answers
			// why; the session goes on.
			c := connect(t, srv)
			call := &drpc.Call{Method: int32(methodEcho), Sequence: 1}
			call.Body = make([]byte, limit-proto.Size(call)-3+over) // 3: the body's tag and 2-byte length
			resp, err := c.SendMsg(context.Background(), call)
			require.NoError(t, err)
			assert.Equal(t, drpc.StatusFailedUnmarshalCall, resp.Status)
			assert.Equal(t, int64(1), resp.Sequence, "the answer carries the dropped call's sequence")
			f := drpc.FailureFromResponse(resp)
			assert.Contains(t, f.Error(), "above the server's limit of 1000 bytes")
			assert.True(t, c.IsConnected())
			echo(t, c, "the session goes on")
		})
	}
	t.Run("exactly the limit", func(t *testing.T) {
		c := connect(t, srv)
		call := &drpc.Call{Method: int32(methodEcho), Sequence: 1}
		call.Body = make([]byte, limit-proto.Size(call)-3)
		require.Equal(t, limit, proto.Size(call))
		resp, err := c.SendMsg(context.Background(), call)
		require.NoError(t, err)
		assert.Equal(t, drpc.StatusSuccess, resp.Status)
	})
	echo(t, other, "unharmed")
	serverWorks(t, srv)
}

func TestHandlerPanicFailsOnlyThatCall(t *testing.T) {
	srv, _ := startServer(t)
	c := connect(t, srv)
	other := connect(t, srv)
	for i := range 3 {
		resp, err := c.SendMsg(context.Background(), &drpc.Call{Method: int32(methodPanic)})
		require.NoError(t, err)
		assert.Equal(t, drpc.StatusFailure, resp.Status)
		assert.Equal(t, int64(2*i+1), resp.Sequence)
		assert.Empty(t, resp.Body)

		resp, err = c.SendMsg(context.Background(), &drpc.Call{Method: int32(methodEcho), Body: []byte("next")})
		require.NoError(t, err, "the session survives the panic")
		assert.Equal(t, drpc.StatusSuccess, resp.Status)
		assert.Equal(t, "next", string(resp.Body))
	}
	echo(t, other, "unharmed")
	assert.Equal(t, 2, srv.NumSessions())
}

func TestManyConcurrentSessions(t *testing.T) {
	const (
		sessions = 1000
		calls    = 3
	)
	raiseFileLimit(t, 2*sessions+200) // a descriptor per end of each session
	srv, _ := startServer(t)

	var connected, done sync.WaitGroup
	connected.Add(sessions)
	release := make(chan struct{})
	errs := make(chan error, sessions)
	for i := range sessions {
		done.Go(func() {
			c := drpc.NewClientConnection(srv.SocketPath())
			err := c.Connect(context.Background())
			connected.Done()
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			<-release
			for j := range calls {
				body := fmt.Sprintf("session %d call %d", i, j)
				resp, err := c.SendMsg(context.Background(), &drpc.Call{Method: int32(methodEcho), Body: []byte(body)})
				switch {
				case err != nil:
					errs <- err
					return
				case resp.Sequence != int64(j+1) || string(resp.Body) != body:
					errs <- fmt.Errorf("session %d call %d: got sequence %d body %q", i, j, resp.Sequence, resp.Body)
					return
				}
			}
		})
	}
	connected.Wait()
	sessionsDropTo(t, srv, sessions) // all of them at once
	close(release)
	done.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	sessionsDropTo(t, srv, 0)
	serverWorks(t, srv)
}

// raiseFileLimit makes sure the process may open n descriptors, raising
// the soft limit up to the hard one if needed, and skips the test if it
// cannot.
func raiseFileLimit(t *testing.T, n uint64) {
	t.Helper()
	var lim syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim))
	if lim.Cur >= n {
		return
	}
	old := lim
	if lim.Max < n {
		lim.Max = n // allowed for root
	}
	lim.Cur = n
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skipf("needs %d open files; the limit is %d (hard %d) and cannot be raised: %v", n, old.Cur, old.Max, err)
	}
	t.Cleanup(func() { _ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) })
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
