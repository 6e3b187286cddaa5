package drpc_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/cc532012/drpc/drpc"
	"github.com/cc532012/drpc/drpc/internal/wire"
)

// echoModule is module 0 of the tests: method 1 echoes the body, method 2
// fails with the status in the body's first byte, method 3 panics, method 4
// blocks until its context ends or block is closed, method 5 answers the
// session's peer credentials as "pid uid gid".
type echoModule struct {
	block chan struct{} // method 4 waits on it

	started  atomic.Int32 // method 4 calls started so far
	blocked  atomic.Int32 // method 4 calls waiting now
	ctxEnded atomic.Int32 // method 4 calls ended by their context
}

const (
	methodEcho  drpc.MethodID = 1
	methodFail  drpc.MethodID = 2
	methodPanic drpc.MethodID = 3
	methodBlock drpc.MethodID = 4
	methodCreds drpc.MethodID = 5
)

func (m *echoModule) ID() drpc.ModuleID { return 0 }

func (m *echoModule) String() string { return "echo" }

// echoMethods are the echo module's methods, built once: GetMethod runs on
// every call.
var echoMethods = map[drpc.MethodID]drpc.Method{
	methodEcho:  drpc.NewMethod(0, methodEcho, "echo"),
	methodFail:  drpc.NewMethod(0, methodFail, "fail"),
	methodPanic: drpc.NewMethod(0, methodPanic, "panic"),
	methodBlock: drpc.NewMethod(0, methodBlock, "block"),
	methodCreds: drpc.NewMethod(0, methodCreds, "creds"),
}

func (m *echoModule) GetMethod(id drpc.MethodID) (drpc.Method, error) {
	meth, ok := echoMethods[id]
	if !ok {
		return nil, drpc.NewFailure(drpc.StatusUnknownMethod, "")
	}
	return meth, nil
}

func (m *echoModule) HandleCall(ctx context.Context, s *drpc.Session, meth drpc.Method, body []byte) ([]byte, error) {
	switch meth.ID() {
	case methodEcho:
		return body, nil
	case methodFail:
		return nil, drpc.NewFailure(drpc.Status(body[0]), "")
	case methodPanic:
		panic("handler bug")
	case methodBlock:
		m.blocked.Add(1)
		defer m.blocked.Add(-1)
		m.started.Add(1)
		select {
		case <-m.block:
			return []byte("done"), nil
		case <-ctx.Done():
			m.ctxEnded.Add(1)
			return nil, ctx.Err()
		}
	case methodCreds:
		c := s.PeerCredentials()
		return fmt.Appendf(nil, "%d %d %d", c.PID, c.UID, c.GID), nil
	}
	return nil, drpc.NewFailure(drpc.StatusUnknownMethod, "")
}

// socketPath returns a fresh socket path in a short temporary directory
// (t.TempDir paths can exceed the 108-byte sun_path limit).
func socketPath(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "drpc")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return filepath.Join(dir, "test.sock")
}

// startServer starts a server with the echo module on a fresh socket and
// shuts it down when the test ends.
func startServer(t testing.TB, opts ...drpc.ServerOption) (*drpc.DomainSocketServer, *echoModule) {
	t.Helper()
	srv, err := drpc.NewDomainSocketServer(socketPath(t), append([]drpc.ServerOption{drpc.WithLogger(slog.New(slog.DiscardHandler))}, opts...)...)
	require.NoError(t, err)
	mod := &echoModule{block: make(chan struct{})}
	require.NoError(t, srv.RegisterRPCModule(mod))
	require.NoError(t, srv.Start(context.Background()))
	t.Cleanup(func() {
		// Bounded, so that a handler a failed test left blocked cannot hang
		// the run.
		ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return srv, mod
}

// connect returns a client connected to srv, closed when the test ends.
func connect(t testing.TB, srv *drpc.DomainSocketServer, opts ...drpc.ClientOption) *drpc.ClientConnection {
	t.Helper()
	c := drpc.NewClientConnection(srv.SocketPath(), opts...)
	require.NoError(t, c.Connect(context.Background()))
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// hangGuard bounds every wait of the tests: long enough never to decide a
// result on a slow machine, short enough that a hang fails instead of
// stalling the run.
const hangGuard = 10 * time.Second

// eventually waits until cond holds, failing the test after hangGuard.
func eventually(t testing.TB, cond func() bool, msgAndArgs ...any) {
	t.Helper()
	require.Eventually(t, cond, hangGuard, 2*time.Millisecond, msgAndArgs...)
}

// sessionsDropTo waits until srv has n sessions.
func sessionsDropTo(t testing.TB, srv *drpc.DomainSocketServer, n int) {
	t.Helper()
	eventually(t, func() bool { return srv.NumSessions() == n }, "the server should get to %d session(s)", n)
}

// echo makes an echo call on c and checks its answer.
func echo(t testing.TB, c *drpc.ClientConnection, body string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	resp, err := c.SendMsg(ctx, &drpc.Call{Method: int32(methodEcho), Body: []byte(body)})
	require.NoError(t, err)
	require.Equal(t, drpc.StatusSuccess, resp.Status)
	require.Equal(t, body, string(resp.Body))
}

// serverWorks checks that srv accepts a new connection and answers a call
// on it.
func serverWorks(t testing.TB, srv *drpc.DomainSocketServer) {
	t.Helper()
	c := drpc.NewClientConnection(srv.SocketPath())
	require.NoError(t, c.Connect(context.Background()))
	defer c.Close()
	echo(t, c, "still serving")
}

// dialPacket opens a raw SOCK_SEQPACKET connection to path, closed when the
// test ends, for tests that write packets by hand.
func dialPacket(t testing.TB, path string) *net.UnixConn {
	t.Helper()
	c, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: path, Net: "unixpacket"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// chunkPacket returns a packet made of header h and data.
func chunkPacket(h wire.Header, data []byte) []byte {
	p := make([]byte, wire.HeaderSize, wire.HeaderSize+len(data))
	h.Put(p)
	return append(p, data...)
}

// messagePackets returns the packets that carry msg.
func messagePackets(msg []byte) [][]byte {
	chunks := wire.ChunkCount(uint64(len(msg)))
	packets := make([][]byte, chunks)
	for i := range packets {
		data := msg[i*wire.MaxChunkData : min((i+1)*wire.MaxChunkData, len(msg))]
		packets[i] = chunkPacket(wire.Header{
			TotalDataSize: uint64(len(msg)),
			ChunkDataSize: uint64(len(data)),
			ChunkIdx:      uint32(i),
			TotalChunks:   uint32(chunks),
		}, data)
	}
	return packets
}

// marshalCall encodes call the way every dRPC peer does.
func marshalCall(t testing.TB, call *drpc.Call) []byte {
	t.Helper()
	b, err := proto.Marshal(call)
	require.NoError(t, err)
	return b
}

// writePackets writes packets on c, one per Write, and returns the first
// error (the peer may have closed the connection).
func writePackets(c *net.UnixConn, packets ...[]byte) error {
	for _, p := range packets {
		if _, err := c.Write(p); err != nil {
			return err
		}
	}
	return nil
}

// readResponse reads one message from c and decodes it as a Response.
func readResponse(t testing.TB, c *net.UnixConn) *drpc.Response {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(hangGuard)))
	msg, err := wire.NewReceiver(c, 0).ReadMessage()
	require.NoError(t, err)
	resp := new(drpc.Response)
	require.NoError(t, proto.Unmarshal(msg, resp))
	return resp
}

// waitClosed waits until the peer of c closes the connection, reading and
// dropping whatever arrives before.
func waitClosed(t testing.TB, c *net.UnixConn) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(hangGuard)))
	buf := make([]byte, wire.MaxPacketSize)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue
		}
		require.True(t, errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET), "the server should close the connection, got %v", err)
		return
	}
}

// blockingCall starts a call of the blocking method on c and returns where
// its outcome will arrive, once the handler runs.
func blockingCall(t *testing.T, c *drpc.ClientConnection, mod *echoModule) <-chan callResult {
	t.Helper()
	before := mod.started.Load()
	out := make(chan callResult, 1)
	go func() {
		resp, err := c.SendMsg(context.Background(), &drpc.Call{Method: int32(methodBlock)})
		out <- callResult{resp, err}
	}()
	eventually(t, func() bool { return mod.started.Load() > before }, "the handler should be running")
	return out
}

type callResult struct {
	resp *drpc.Response
	err  error
}

// receive waits for a value from ch, failing after hangGuard.
func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(hangGuard):
		require.FailNow(t, "timed out waiting for "+what)
		panic("unreachable")
	}
}

// newServer returns a server with the echo module for path, not started,
// shut down when the test ends.
func newServer(t *testing.T, path string, mode os.FileMode) *drpc.DomainSocketServer {
	t.Helper()
	srv, err := drpc.NewDomainSocketServer(path, drpc.WithSocketMode(mode))
	require.NoError(t, err)
	require.NoError(t, srv.RegisterRPCModule(&echoModule{block: make(chan struct{})}))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return srv
}

// threeChunks is the size of a message of three chunks.
const threeChunks = 2*wire.MaxChunkData + 10

// assertGoneEventually waits until nothing exists at path.
func assertGoneEventually(t *testing.T, path string) {
	t.Helper()
	eventually(t, func() bool {
		_, err := os.Lstat(path)
		return errors.Is(err, os.ErrNotExist)
	}, "%s should be removed", path)
}

// logRecorder is a slog.Handler that keeps every record, for tests that
// check what the server logs.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }

func (r *logRecorder) WithGroup(string) slog.Handler { return r }

func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec.Clone())
	return nil
}

// find returns the records whose message contains msg, as maps of their
// attributes (with "level" and "msg").
func (r *logRecorder) find(msg string) []map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []map[string]string
	for _, rec := range r.records {
		if !strings.Contains(rec.Message, msg) {
			continue
		}
		m := map[string]string{"level": rec.Level.String(), "msg": rec.Message}
		rec.Attrs(func(a slog.Attr) bool {
			m[a.Key] = a.Value.String()
			return true
		})
		out = append(out, m)
	}
	return out
}
