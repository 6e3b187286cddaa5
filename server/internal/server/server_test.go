package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	authv1drpc "github.com/cc532012/drpc/api/auth/v1/authv1drpc"
	mgmtv1drpc "github.com/cc532012/drpc/api/mgmt/v1/mgmtv1drpc"
	srvv1drpc "github.com/cc532012/drpc/api/srv/v1/srvv1drpc"
	"github.com/cc532012/drpc/daemon/config"
	"github.com/cc532012/drpc/daemon/daemontest"
	"github.com/cc532012/drpc/daemon/tlsconfig"
	"github.com/cc532012/drpc/drpc"
	"github.com/cc532012/drpc/drpc/auth"
	authv1 "github.com/cc532012/drpc/proto/drpc/auth/v1"
	mgmtv1 "github.com/cc532012/drpc/proto/drpc/mgmt/v1"
	srvv1 "github.com/cc532012/drpc/proto/drpc/srv/v1"
	"github.com/cc532012/drpc/server/internal/engine"
	"github.com/cc532012/drpc/server/internal/security"
)

// testConfig is a configuration for a server on dir that pings often.
func testConfig(dir string) Config {
	cfg := DefaultConfig()
	cfg.SocketDir = dir
	cfg.KeysDir = filepath.Join(dir, "keys")
	cfg.PingInterval = config.Duration(20 * time.Millisecond)
	cfg.AttemptTimeout = config.Duration(500 * time.Millisecond)
	cfg.CallTimeout = config.Duration(2 * time.Second)
	// The management service on a free port of 127.0.0.1, without TLS
	// (mgmt_test.go tests it with TLS).
	cfg.Port = 0
	cfg.ListenAddress = "127.0.0.1"
	cfg.Transport.AllowInsecure = true
	return cfg
}

// newServer makes a server on dir, with cfg changed by edit, and shuts it
// down when the test ends.
func newServer(t *testing.T, dir string, edit func(*Config)) *Server {
	t.Helper()
	cfg := testConfig(dir)
	if edit != nil {
		edit(&cfg)
	}
	s, err := New(cfg, Options{Policy: engine.Policy{InitialBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s
}

// fakeEngine serves the mgmt module on dir/daos_engine<index>.sock.
type fakeEngine struct {
	mgmtv1drpc.UnimplementedMgmtServiceServer
	index               uint32
	path                string
	srv                 *drpc.DomainSocketServer
	setRank, prep, ping atomic.Int32
	evicted             atomic.Int32 // handles evicted (230)
	rank                atomic.Uint32
}

func (f *fakeEngine) SetRank(_ context.Context, _ *drpc.Session, req *mgmtv1.SetRankReq) (*mgmtv1.DaosResp, error) {
	f.setRank.Add(1)
	f.rank.Store(req.GetRank())
	return &mgmtv1.DaosResp{}, nil
}

func (f *fakeEngine) PrepShutdown(context.Context, *drpc.Session, *mgmtv1.PrepShutdownReq) (*mgmtv1.DaosResp, error) {
	f.prep.Add(1)
	return &mgmtv1.DaosResp{}, nil
}

func (f *fakeEngine) PingRank(context.Context, *drpc.Session, *mgmtv1.PingRankReq) (*mgmtv1.DaosResp, error) {
	f.ping.Add(1)
	return &mgmtv1.DaosResp{}, nil
}

func (f *fakeEngine) PoolEvict(_ context.Context, _ *drpc.Session, req *mgmtv1.PoolEvictReq) (*mgmtv1.PoolEvictResp, error) {
	f.evicted.Add(int32(len(req.GetHandles())))
	return &mgmtv1.PoolEvictResp{Count: int32(len(req.GetHandles()))}, nil
}

func startFakeEngine(t testing.TB, dir string, index uint32) *fakeEngine {
	t.Helper()
	f, err := newFakeEngine(dir, index)
	require.NoError(t, err)
	t.Cleanup(f.stop)
	return f
}

// newFakeEngine starts an engine; the caller stops it.
func newFakeEngine(dir string, index uint32) (*fakeEngine, error) {
	f := &fakeEngine{index: index, path: filepath.Join(dir, fmt.Sprintf("daos_engine%d.sock", index))}
	srv, err := drpc.NewDomainSocketServer(f.path)
	if err != nil {
		return nil, err
	}
	if err := srv.RegisterRPCModule(mgmtv1drpc.NewMgmtServiceModule(f)); err != nil {
		return nil, err
	}
	if err := srv.Start(context.Background()); err != nil {
		return nil, err
	}
	f.srv = srv
	return f, nil
}

func (f *fakeEngine) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = f.srv.Shutdown(ctx)
}

// notify calls the server's notify ready for f.
func notify(ctx context.Context, socket string, f *fakeEngine) error {
	conn := drpc.NewClientConnection(socket)
	if err := conn.Connect(ctx); err != nil {
		return err
	}
	defer conn.Close()
	_, err := srvv1drpc.NewSrvServiceClient(conn).NotifyReady(ctx, &srvv1.NotifyReadyReq{InstanceIdx: f.index, DrpcListenerSock: f.path})
	return err
}

// TestServerInProcess: start, two engines notify, get their ranks and pings,
// an event, the status in both forms, then Shutdown prepares both engines
// and removes the socket.
func TestServerInProcess(t *testing.T) {
	dir := daemontest.SocketDir(t)
	rank := uint32(10)
	s := newServer(t, dir, func(c *Config) {
		c.Engines = []EngineConfig{{Index: 0, Rank: &rank}, {Index: 1}}
	})
	require.NoError(t, s.Start(context.Background()))
	st, err := os.Stat(s.SocketPath())
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(SocketMode), st.Mode().Perm())
	assert.Equal(t, os.ModeSocket, st.Mode().Type())

	ctx := context.Background()
	e0, e1 := startFakeEngine(t, dir, 0), startFakeEngine(t, dir, 1)
	require.NoError(t, notify(ctx, s.SocketPath(), e0))
	require.NoError(t, notify(ctx, s.SocketPath(), e1))
	e2 := startFakeEngine(t, dir, 2)
	require.Equal(t, drpc.StatusFailure, drpc.StatusOf(notify(ctx, s.SocketPath(), e2)), "index 2 is not configured")
	require.Eventually(t, func() bool { return e0.ping.Load() >= 1 && e1.ping.Load() >= 1 }, daemontest.WaitFor, daemontest.Tick)
	assert.EqualValues(t, 10, e0.rank.Load())
	assert.EqualValues(t, 1, e1.rank.Load())

	conn := drpc.NewClientConnection(s.SocketPath())
	require.NoError(t, conn.Connect(ctx))
	defer conn.Close()
	resp, err := srvv1drpc.NewSrvServiceClient(conn).ClusterEvent(ctx, &srvv1.ClusterEventReq{Sequence: 5, Event: &srvv1.RASEvent{Id: 3, Msg: "disk on fire", Hostname: "node1", Rank: 10}})
	require.NoError(t, err)
	assert.EqualValues(t, 5, resp.GetSequence())

	status, err := FetchStatus(ctx, s.SocketPath())
	require.NoError(t, err)
	var text, js bytes.Buffer
	require.NoError(t, WriteStatusText(&text, status, time.Now()))
	require.NoError(t, WriteStatusJSON(&js, status))
	for _, want := range []string{"engines: 2", "INDEX", "ready", e0.path, "disk on fire", "1 received"} {
		assert.Contains(t, text.String(), want)
	}
	var got StatusJSON
	require.NoError(t, json.Unmarshal(js.Bytes(), &got))
	require.Len(t, got.Engines, 2)
	assert.Equal(t, EngineJSON{Index: 0, Rank: 10, State: "ready", Socket: e0.path}, EngineJSON{
		Index: got.Engines[0].Index, Rank: got.Engines[0].Rank, State: got.Engines[0].State, Socket: got.Engines[0].Socket})
	assert.NotNil(t, got.Engines[0].LastPing)
	assert.True(t, got.Engines[0].RankSet)
	require.Len(t, got.Events, 1)
	assert.Equal(t, "disk on fire", got.Events[0].Msg)
	assert.EqualValues(t, os.Getpid(), got.Server.PID)
	// The JSON field names are the documented ones.
	for _, key := range []string{`"engines"`, `"events"`, `"index"`, `"rank"`, `"state"`, `"socket"`, `"last_ping"`} {
		assert.Contains(t, js.String(), key)
	}

	require.NoError(t, s.Shutdown(ctx))
	assert.EqualValues(t, 1, e0.prep.Load())
	assert.EqualValues(t, 1, e1.prep.Load())
	assert.EqualValues(t, 0, e2.prep.Load())
	_, err = os.Stat(s.SocketPath())
	assert.ErrorIs(t, err, os.ErrNotExist)
	for _, e := range s.Engines() {
		assert.Equal(t, engine.Stopped, e.State)
	}
}

// TestStatusNotRunning: status without a server says so.
func TestStatusNotRunning(t *testing.T) {
	_, err := FetchStatus(context.Background(), filepath.Join(daemontest.SocketDir(t), SocketName))
	require.ErrorIs(t, err, ErrNotRunning)
	assert.Contains(t, err.Error(), "start the server")
}

// TestConcurrentCalls: under -race, 100 concurrent validations and events
// while engines come and go.
func TestConcurrentCalls(t *testing.T) {
	dir := daemontest.SocketDir(t)
	keys := filepath.Join(dir, "keys")
	require.NoError(t, os.Mkdir(keys, 0o755))
	key, err := auth.GenerateKey(auth.KeyEd25519, 0)
	require.NoError(t, err)
	require.NoError(t, auth.WriteKeyPair(key, filepath.Join(keys, "agent"), false))
	tok, err := auth.NewSysToken(auth.Identity{User: "u", Group: "g", Host: "h"}, time.Now())
	require.NoError(t, err)
	cred, err := auth.NewSigner(key).Sign(tok, "agent")
	require.NoError(t, err)

	s := newServer(t, dir, nil)
	require.NoError(t, s.Start(context.Background()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Engines come and go while the calls run.
	stopChurn := make(chan struct{})
	churnDone := make(chan error, 1)
	go func() {
		defer close(churnDone)
		for i := 0; ; i++ {
			select {
			case <-stopChurn:
				return
			default:
			}
			e, err := newFakeEngine(dir, uint32(i%3))
			if err != nil {
				churnDone <- err
				return
			}
			if err := notify(ctx, s.SocketPath(), e); err != nil {
				churnDone <- err
				e.stop()
				return
			}
			time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
			e.stop()
		}
	}()

	const calls = 100
	var wg sync.WaitGroup
	errs := make(chan error, calls)
	for i := range calls {
		wg.Go(func() {
			conn := drpc.NewClientConnection(s.SocketPath())
			if err := conn.Connect(ctx); err != nil {
				errs <- err
				return
			}
			defer conn.Close()
			if i%2 == 0 {
				resp, err := authv1drpc.NewSecurityServiceClient(conn).ValidateCredentials(ctx, &authv1.ValidateCredReq{Cred: cred})
				if err == nil && resp.GetStatus() != security.StatusOK {
					err = fmt.Errorf("validation %d: status %d", i, resp.GetStatus())
				}
				errs <- err
				return
			}
			resp, err := srvv1drpc.NewSrvServiceClient(conn).ClusterEvent(ctx, &srvv1.ClusterEventReq{Sequence: uint64(i), Event: &srvv1.RASEvent{Msg: "event"}})
			if err == nil && resp.GetSequence() != uint64(i) {
				err = fmt.Errorf("event %d: reply sequence %d", i, resp.GetSequence())
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	close(stopChurn)
	require.NoError(t, <-churnDone)
	status, err := FetchStatus(ctx, s.SocketPath())
	require.NoError(t, err)
	assert.EqualValues(t, calls/2, status.GetServer().GetEventsReceived())
	assert.NotEmpty(t, status.GetEngines())
	require.NoError(t, s.Shutdown(ctx))
}

func TestConfigValidate(t *testing.T) {
	r := func(v uint32) *uint32 { return &v }
	tests := []struct {
		name string
		edit func(*Config)
		want []string
	}{
		{"defaults", func(*Config) {}, nil},
		{"engines with ranks", func(c *Config) { c.Engines = []EngineConfig{{Index: 0, Rank: r(5)}, {Index: 1}} }, nil},
		{"empty socket dir", func(c *Config) { c.SocketDir = "" }, []string{"socket_dir: empty"}},
		{"empty keys dir", func(c *Config) { c.KeysDir = "" }, []string{"keys_dir: empty"}},
		{"negative max age", func(c *Config) { c.CredentialMaxAge = -1 }, []string{"credential_max_age"}},
		{"ping interval too short", func(c *Config) { c.PingInterval = config.Duration(time.Millisecond) }, []string{"ping_interval"}},
		{"no call timeout", func(c *Config) { c.CallTimeout = 0 }, []string{"call_timeout"}},
		{"negative attempt timeout", func(c *Config) { c.AttemptTimeout = -1 }, []string{"attempt_timeout"}},
		{"max events 0", func(c *Config) { c.MaxEvents = 0 }, []string{"max_events: 0"}},
		{"index twice", func(c *Config) { c.Engines = []EngineConfig{{Index: 1}, {Index: 1}} }, []string{"engines[1]: index 1 is listed twice"}},
		{"rank twice", func(c *Config) { c.Engines = []EngineConfig{{Index: 0, Rank: r(1)}, {Index: 1}} }, []string{"rank 1 of index 1 is also the rank of index 0"}},
		{"bad log level", func(c *Config) { c.LogLevel = "loud" }, []string{"log_level"}},
		{"several problems", func(c *Config) { c.MaxEvents = -1; c.KeysDir = "" }, []string{"max_events", "keys_dir"}},
		{"port 0", func(c *Config) { c.Port = 0 }, nil},
		{"port too large", func(c *Config) { c.Port = 70000 }, []string{"port: 70000 is not a TCP port"}},
		{"negative port", func(c *Config) { c.Port = -1 }, []string{"port: -1"}},
		{"listen address with a port", func(c *Config) { c.ListenAddress = "127.0.0.1:10001" }, []string{"listen_address", "without a port"}},
		{"IPv6 listen address", func(c *Config) { c.ListenAddress = "::1" }, nil},
		{"empty name", func(c *Config) { c.Name = "" }, []string{"name: empty"}},
		{"long name", func(c *Config) { c.Name = "a_very_long_system_name" }, []string{"name:", "longer than 15"}},
		{"name with a space", func(c *Config) { c.Name = "my system" }, []string{"name:", "space"}},
		{"no certificate", func(c *Config) { c.Transport.Cert = "" }, []string{"transport_config.cert: empty", "allow_insecure"}},
		{"insecure needs no files", func(c *Config) { c.Transport = tlsconfig.ServerConfig{Config: tlsconfig.Config{AllowInsecure: true}} }, nil},
		{"no provider", func(c *Config) { c.ClientNetHint.Provider = "" }, []string{"client_net_hint.provider: empty"}},
		{"bad env var", func(c *Config) { c.ClientNetHint.EnvVars = []string{"A=1", "B"} }, []string{`client_net_hint.env_vars[1]: "B": want KEY=VALUE`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.edit(&cfg)
			err := cfg.Validate()
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

// TestExampleConfig: the example of the README decodes strictly and is
// valid; a typo is refused with the line and the key.
func TestExampleConfig(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(readme), "<!-- example config -->\n```yaml\n")
	require.True(t, ok, "README.md has the example config")
	example, _, ok := strings.Cut(rest, "```")
	require.True(t, ok)

	cfg := DefaultConfig()
	require.NoError(t, config.Decode([]byte(example), "example", &cfg))
	require.NoError(t, cfg.Validate())
	assert.Len(t, cfg.Engines, 2)
	assert.Equal(t, "/var/run/daos_server", cfg.SocketDir)
	assert.EqualValues(t, 5, *cfg.Engines[1].Rank)

	cfg = DefaultConfig()
	err = config.Decode([]byte("socket_dir: /x\nping_intervall: 2s\n"), "typo.yaml", &cfg)
	require.ErrorIs(t, err, config.ErrUnknownKey)
	assert.Contains(t, err.Error(), `line 2: unknown key "ping_intervall" (did you mean "ping_interval"?)`)

	// config dump gives a file that decodes to the same configuration.
	var b bytes.Buffer
	require.NoError(t, config.Dump(&b, DefaultConfig()))
	again := Config{}
	require.NoError(t, config.Decode(b.Bytes(), "dump", &again))
	assert.Equal(t, DefaultConfig(), again)
}

// TestBadStartLeavesNothing: a start that fails after creating the
// default directory removes it.
func TestBadStartLeavesNothing(t *testing.T) {
	dir := daemontest.SocketDir(t)
	s := newServer(t, filepath.Join(dir, "run"), func(c *Config) { c.MetricsAddr = "256.0.0.1:1" })
	err := s.Start(context.Background())
	require.Error(t, err)
	_, err = os.Stat(filepath.Join(dir, "run"))
	assert.ErrorIs(t, err, os.ErrNotExist, "a socket directory that is not the default is not created")

	var logs bytes.Buffer
	s2, err := New(testConfig(dir), Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	require.NoError(t, s2.Start(context.Background()))
	require.ErrorIs(t, s2.Start(context.Background()), drpc.ErrServerStarted)
	require.NoError(t, s2.Shutdown(context.Background()))
	assert.Contains(t, logs.String(), "keys directory is missing")
}
