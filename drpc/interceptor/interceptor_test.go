package interceptor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/drpc"
	"github.com/cc532012/drpc/drpc/interceptor"
)

// echo is module 0: method 1 echoes, method 2 fails.
type echo struct{}

var (
	methodEcho = drpc.NewMethod(0, 1, "echo")
	methodFail = drpc.NewMethod(0, 2, "fail")
)

func (echo) ID() drpc.ModuleID { return 0 }
func (echo) String() string    { return "echo" }
func (echo) GetMethod(id drpc.MethodID) (drpc.Method, error) {
	switch id {
	case 1:
		return methodEcho, nil
	case 2:
		return methodFail, nil
	}
	return nil, drpc.NewFailure(drpc.StatusUnknownMethod, "")
}
func (echo) HandleCall(_ context.Context, _ *drpc.Session, m drpc.Method, body []byte) ([]byte, error) {
	if m.ID() == 2 {
		return nil, drpc.NewFailure(drpc.StatusFailure, "asked to fail")
	}
	return body, nil
}

// syncBuffer is a bytes.Buffer safe for a logger used from sessions.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

func serve(t *testing.T, opts ...drpc.ServerOption) *drpc.ClientConnection {
	t.Helper()
	dir, err := os.MkdirTemp("", "icpt")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	srv, err := drpc.NewDomainSocketServer(filepath.Join(dir, "s.sock"), opts...)
	require.NoError(t, err)
	require.NoError(t, srv.RegisterRPCModule(echo{}))
	require.NoError(t, srv.Start(context.Background()))
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	c := drpc.NewClientConnection(srv.SocketPath())
	require.NoError(t, c.Connect(context.Background()))
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestLogging(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := serve(t, drpc.WithInterceptor(interceptor.Logging(log)))
	ctx := context.Background()
	resp, err := c.SendMsg(ctx, &drpc.Call{Method: 1, Body: []byte("hi")})
	require.NoError(t, err)
	require.Equal(t, drpc.StatusSuccess, resp.Status)
	resp, err = c.SendMsg(ctx, &drpc.Call{Method: 2})
	require.NoError(t, err)
	require.Equal(t, drpc.StatusFailure, resp.Status)

	lines := buf.lines()
	require.Len(t, lines, 2)
	ok, failed := lines[0], lines[1]
	tests := []struct {
		line   map[string]any
		level  string
		method string
		status string
	}{
		{ok, "DEBUG", "echo", "STATUS_SUCCESS"},
		{failed, "WARN", "fail", "STATUS_FAILURE"},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.level, tc.line["level"])
		assert.Equal(t, "dRPC call", tc.line["msg"])
		assert.Equal(t, tc.method, tc.line["method"])
		assert.Equal(t, tc.status, tc.line["status"])
		assert.Equal(t, float64(os.Getuid()), tc.line["peer_uid"])
		assert.Equal(t, float64(os.Getpid()), tc.line["peer_pid"])
		assert.Contains(t, tc.line, "duration")
	}
	assert.Equal(t, float64(2), ok["request_bytes"])
	assert.Equal(t, float64(2), ok["reply_bytes"])
	assert.Contains(t, failed["err"], "asked to fail")
}

func TestAllowUIDs(t *testing.T) {
	me := uint32(os.Getuid())
	tests := []struct {
		name   string
		uids   []uint32
		status drpc.Status
	}{
		{"allowed", []uint32{me + 1, me}, drpc.StatusSuccess},
		{"not on the list", []uint32{me + 1}, drpc.StatusFailure},
		{"empty list", nil, drpc.StatusFailure},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ran atomic.Bool
			spy := func(ctx context.Context, s *drpc.Session, m drpc.Method, body []byte, next drpc.Handler) ([]byte, error) {
				ran.Store(true)
				return next.HandleCall(ctx, s, m, body)
			}
			c := serve(t, drpc.WithInterceptor(interceptor.AllowUIDs(tc.uids...), spy))
			resp, err := c.SendMsg(context.Background(), &drpc.Call{Method: 1, Body: []byte("x")})
			require.NoError(t, err)
			assert.Equal(t, tc.status, resp.Status)
			assert.Equal(t, tc.status == drpc.StatusSuccess, ran.Load(), "a refused call stops before the next interceptor and the handler")
		})
	}
}
