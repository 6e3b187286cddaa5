package drpc_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/cc532012/drpc/drpc"
	"github.com/cc532012/drpc/drpc/internal/wire"
)

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
