package mgmtclient_test

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/cc532012/drpc/agent/internal/mgmtclient"
	"github.com/cc532012/drpc/daemon/daemontest"
	"github.com/cc532012/drpc/daemon/tlsconfig"
	mgmtv1 "github.com/cc532012/drpc/proto/drpc/mgmt/v1"
)

// fakeServer is a management service: a hand-written grpc.ServiceDesc of
// mgmt.MgmtSvc, as a DAOS server (or ours) serves it.
type fakeServer struct {
	name  string
	calls atomic.Int32
}

type mgmtHandler interface{ label() string }

func (f *fakeServer) label() string { return f.name }

func serviceDesc() *grpc.ServiceDesc {
	return &grpc.ServiceDesc{
		ServiceName: "mgmt.MgmtSvc",
		HandlerType: (*mgmtHandler)(nil),
		Methods: []grpc.MethodDesc{
			{MethodName: "GetAttachInfo", Handler: func(srv any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				req := new(mgmtv1.GetAttachInfoReq)
				if err := dec(req); err != nil {
					return nil, err
				}
				f := srv.(*fakeServer)
				f.calls.Add(1)
				if req.GetSys() != "" && req.GetSys() != "daos_server" {
					return nil, status.Error(codes.InvalidArgument, "wrong system name")
				}
				return &mgmtv1.GetAttachInfoResp{Sys: f.name, RankUris: []*mgmtv1.GetAttachInfoResp_RankUri{{Rank: 0, Uri: "tcp://x"}}}, nil
			}},
			{MethodName: "PoolEvict", Handler: func(srv any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				req := new(mgmtv1.PoolEvictReq)
				if err := dec(req); err != nil {
					return nil, err
				}
				srv.(*fakeServer).calls.Add(1)
				return &mgmtv1.PoolEvictResp{Count: int32(len(req.GetHandles()))}, nil
			}},
		},
	}
}

// serve serves a fake management service on addr ("127.0.0.1:0" for a free
// port) with the server's TLS configuration (none if insecure); the test's
// end stops it.
func serve(t *testing.T, addr, name string, tc tlsconfig.ServerConfig) (*fakeServer, string, func()) {
	t.Helper()
	creds := insecure.NewCredentials()
	if !tc.AllowInsecure {
		st, err := tlsconfig.NewServerTLS(tc, tlsconfig.Options{NextProtos: []string{"h2"}})
		require.NoError(t, err)
		creds = credentials.NewTLS(st.Config())
	}
	f := &fakeServer{name: name}
	srv := grpc.NewServer(grpc.Creds(creds))
	srv.RegisterService(serviceDesc(), f)
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return f, ln.Addr().String(), srv.Stop
}

// deadAddr returns a loopback address where nothing listens.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

func certs(t *testing.T, agents ...string) string {
	t.Helper()
	dir := t.TempDir()
	_, err := tlsconfig.GenerateFiles(tlsconfig.GenerateOptions{Dir: dir, Agents: agents})
	require.NoError(t, err)
	return dir
}

var insecureTLS = tlsconfig.Config{AllowInsecure: true}

func newClient(t *testing.T, aps []string, tc tlsconfig.Config, logs *daemontest.SyncBuffer) *mgmtclient.Client {
	t.Helper()
	c, err := mgmtclient.New(mgmtclient.Options{
		AccessPoints: aps, TLS: tc, InitialBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, AttemptTimeout: 2 * time.Second,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestPaths(t *testing.T) {
	assert.Equal(t, "/mgmt.MgmtSvc/GetAttachInfo", mgmtclient.GetAttachInfoPath)
	assert.Equal(t, "/mgmt.MgmtSvc/PoolEvict", mgmtclient.PoolEvictPath)
}

func TestParseAccessPoint(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"host1", "host1:10001", ""},
		{"host2:10002", "host2:10002", ""},
		{"127.0.0.1", "127.0.0.1:10001", ""},
		{"127.0.0.1:5", "127.0.0.1:5", ""},
		{"::1", "[::1]:10001", ""},
		{"[::1]:7", "[::1]:7", ""},
		{"fe80::1", "[fe80::1]:10001", ""},
		{"", "", "want HOST"},
		{"host:0", "", "not a TCP port"},
		{"host:99999", "", "not a TCP port"},
		{"host:x", "", "not a TCP port"},
		{":10001", "", "no host"},
		{"a b", "", "want HOST"},
		{"http://host", "", "want HOST"},
		{"[::1", "", "access point"},
	}
	for _, tc := range tests {
		got, err := mgmtclient.ParseAccessPoint(tc.in, 10001)
		if tc.err != "" {
			assert.ErrorContains(t, err, tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
}

// TestFailover: a dead access point is passed over; the one that answers
// is logged and tried first from then on; when it dies, the other is
// used, and the change is logged.
func TestFailover(t *testing.T) {
	dead := deadAddr(t)
	b, addrB, stopB := serve(t, "127.0.0.1:0", "b", tlsconfig.ServerConfig{Config: insecureTLS})
	logs := &daemontest.SyncBuffer{}
	c := newClient(t, []string{dead, addrB}, insecureTLS, logs)
	assert.Equal(t, []string{dead, addrB}, c.AccessPoints())
	ctx := context.Background()

	resp, err := c.GetAttachInfo(ctx, &mgmtv1.GetAttachInfoReq{})
	require.NoError(t, err)
	assert.Equal(t, "b", resp.GetSys())
	assert.Contains(t, logs.String(), `msg="management service access point failed" access_point=`+dead)
	assert.Contains(t, logs.String(), `msg="management service access point answered" access_point=`+addrB)

	// b is tried first now: the dead one is not tried again.
	before := strings.Count(logs.String(), "access_point="+dead)
	for range 3 {
		_, err := c.PoolEvict(ctx, &mgmtv1.PoolEvictReq{Id: "p", Handles: []string{"h"}})
		require.NoError(t, err)
	}
	assert.Equal(t, before, strings.Count(logs.String(), "access_point="+dead))
	assert.EqualValues(t, 4, b.calls.Load())

	// b dies, the first access point comes up: the client moves to it.
	stopB()
	a, _, _ := serve(t, dead, "a", tlsconfig.ServerConfig{Config: insecureTLS})
	resp, err = c.GetAttachInfo(ctx, &mgmtv1.GetAttachInfoReq{})
	require.NoError(t, err)
	assert.Equal(t, "a", resp.GetSys())
	assert.EqualValues(t, 1, a.calls.Load())
	assert.Contains(t, logs.String(), `msg="management service access point answered" access_point=`+dead+` method=/mgmt.MgmtSvc/GetAttachInfo tls=false previous=`+addrB)
}

// TestBackoff: with no server, a call goes round the access points with a
// growing wait until its context ends, and says so; the same error is
// logged at warn level once per access point.
func TestBackoff(t *testing.T) {
	d1, d2 := deadAddr(t), deadAddr(t)
	logs := &daemontest.SyncBuffer{}
	c := newClient(t, []string{d1, d2}, insecureTLS, logs)
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	_, err := c.GetAttachInfo(ctx, &mgmtv1.GetAttachInfoReq{})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "rounds of 2 access points")
	assert.Equal(t, 1, strings.Count(logs.String(), `level=WARN msg="management service access point failed" access_point=`+d1))
	assert.Contains(t, logs.String(), `msg="management service access point failed again" access_point=`+d1)
}

func TestServerAnswersAnError(t *testing.T) {
	f, addr, _ := serve(t, "127.0.0.1:0", "a", tlsconfig.ServerConfig{Config: insecureTLS})
	c := newClient(t, []string{addr}, insecureTLS, &daemontest.SyncBuffer{})
	_, err := c.GetAttachInfo(context.Background(), &mgmtv1.GetAttachInfoReq{Sys: "other"})
	var se *mgmtclient.ServerError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, codes.InvalidArgument, se.Code)
	assert.EqualValues(t, 1, f.calls.Load(), "an answer is not retried")
}

func TestNoAccessPoints(t *testing.T) {
	c := newClient(t, nil, insecureTLS, &daemontest.SyncBuffer{})
	_, err := c.GetAttachInfo(context.Background(), &mgmtv1.GetAttachInfoReq{})
	require.ErrorIs(t, err, mgmtclient.ErrNoAccessPoints)
}

func TestBadOptions(t *testing.T) {
	_, err := mgmtclient.New(mgmtclient.Options{AccessPoints: []string{"host:0"}, TLS: insecureTLS})
	require.ErrorContains(t, err, "not a TCP port")
	_, err = mgmtclient.New(mgmtclient.Options{AccessPoints: []string{"host"}, TLS: tlsconfig.Config{CACert: "/none/ca.crt", Cert: "/none/a.crt", Key: "/none/a.key"}})
	require.ErrorContains(t, err, "transport_config: ca_cert")
}

// TestTLS: with mutual TLS the call succeeds; each refusal fails the call
// and the agent logs the reason and a hint.
func TestTLS(t *testing.T) {
	dir := certs(t, "agent", "unlisted")
	other := certs(t, "agent")
	require.NoError(t, os.Remove(filepath.Join(dir, "clients", "unlisted.crt")))
	ca, err := tlsconfig.LoadAuthority(filepath.Join(dir, "daosCA.crt"), filepath.Join(dir, "daosCA.key"))
	require.NoError(t, err)
	past := time.Now().Add(-48 * time.Hour)
	certPEM, keyPEM, err := ca.Issue(tlsconfig.Leaf{CommonName: "old", Client: true, NotBefore: past, NotAfter: past.Add(time.Hour)})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "old.crt"), certPEM, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "old.key"), keyPEM, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "clients", "old.crt"), certPEM, 0o644))

	_, addr, _ := serve(t, "127.0.0.1:0", "tls", tlsconfig.ServerConfigIn(dir))
	_, insecureAddr, _ := serve(t, "127.0.0.1:0", "plain", tlsconfig.ServerConfig{Config: insecureTLS})
	c := newClient(t, []string{addr}, tlsconfig.ConfigIn(dir, "agent"), &daemontest.SyncBuffer{})
	resp, err := c.GetAttachInfo(context.Background(), &mgmtv1.GetAttachInfoReq{})
	require.NoError(t, err)
	assert.Equal(t, "tls", resp.GetSys())

	tests := []struct {
		name   string
		addr   string
		client tlsconfig.Config
		want   []string
	}{
		{"server of another CA", addr, tlsconfig.ConfigIn(other, "agent"), []string{"certificate signed by unknown authority", "not signed by the CA this side trusts"}},
		{"client certificate of another CA", addr,
			tlsconfig.Config{CACert: filepath.Join(dir, "daosCA.crt"), Cert: filepath.Join(other, "agent.crt"), Key: filepath.Join(other, "agent.key")},
			[]string{"remote error: tls: unknown certificate authority", "does not trust the CA"}},
		{"not in client_cert_dir", addr, tlsconfig.ConfigIn(dir, "unlisted"), []string{"remote error: tls: bad certificate", "refused this side's certificate"}},
		{"expired agent certificate", addr, tlsconfig.ConfigIn(dir, "old"), []string{"certificate is not valid now", "remote error: tls: expired certificate", "has expired"}},
		{"TLS agent, insecure server", insecureAddr, tlsconfig.ConfigIn(dir, "agent"), []string{"first record does not look like a TLS handshake", "allow_insecure"}},
		{"insecure agent, TLS server", addr, insecureTLS, []string{"requires TLS"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs := &daemontest.SyncBuffer{}
			c := newClient(t, []string{tc.addr}, tc.client, logs)
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			_, err := c.GetAttachInfo(ctx, &mgmtv1.GetAttachInfoReq{})
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, logs.String(), w)
			}
			assert.Equal(t, 1, strings.Count(logs.String(), `level=WARN msg="management service access point failed"`), "one warning for the repeated failures:\n%s", logs.String())
		})
	}
}

// TestReloadTLS: new files are used by the next call; a bad one is refused
// and the old ones stay.
func TestReloadTLS(t *testing.T) {
	dir := certs(t, "agent")
	_, addr, _ := serve(t, "127.0.0.1:0", "tls", tlsconfig.ServerConfigIn(dir))
	c := newClient(t, []string{addr}, tlsconfig.ConfigIn(dir, "agent"), &daemontest.SyncBuffer{})
	ctx := context.Background()
	_, err := c.GetAttachInfo(ctx, &mgmtv1.GetAttachInfoReq{})
	require.NoError(t, err)

	require.NoError(t, os.Chmod(filepath.Join(dir, "agent.key"), 0o644))
	require.ErrorContains(t, c.ReloadTLS(), "keeping the current certificates")
	_, err = c.GetAttachInfo(ctx, &mgmtv1.GetAttachInfoReq{})
	require.NoError(t, err)

	require.NoError(t, os.Chmod(filepath.Join(dir, "agent.key"), 0o400))
	require.NoError(t, c.ReloadTLS())
	_, err = c.GetAttachInfo(ctx, &mgmtv1.GetAttachInfoReq{})
	require.NoError(t, err)

	require.NoError(t, c.Close())
	_, err = c.GetAttachInfo(ctx, &mgmtv1.GetAttachInfoReq{})
	require.ErrorIs(t, err, mgmtclient.ErrClosed)
}
