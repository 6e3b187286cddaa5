package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	authv1drpc "github.com/cc532012/drpc/api/auth/v1/authv1drpc"
	controlv1drpc "github.com/cc532012/drpc/api/control/v1/controlv1drpc"
	srvv1drpc "github.com/cc532012/drpc/api/srv/v1/srvv1drpc"
	"github.com/cc532012/drpc/daemon/daemontest"
	"github.com/cc532012/drpc/daemon/metrics/metricstest"
	"github.com/cc532012/drpc/drpc"
	authv1 "github.com/cc532012/drpc/proto/drpc/auth/v1"
)

// logged waits until p has written s to its stderr (read by a goroutine of
// os/exec, so it may lag behind what the test saw over the sockets).
func logged(t *testing.T, p *daemontest.Process, s string) {
	t.Helper()
	require.Eventually(t, func() bool { return strings.Contains(p.Stderr.String(), s) }, daemontest.WaitFor, daemontest.Tick,
		"%s did not log %q; stderr:\n%s", p.Name, s, p.Stderr.String())
}

// TestEnginesEndToEnd runs the real binaries: a server and two engines ->
// notify ready -> set rank -> pings; an event; the metrics; one engine
// killed -> unavailable; restarted -> ready; SIGTERM to the server -> each
// engine logs 218, the server exits 0 and removes its socket; SIGTERM to
// the engines -> exit 0.
func TestEnginesEndToEnd(t *testing.T) {
	dir := daemontest.SocketDir(t)
	// The previous run's leftovers: stale sockets go, the rest stays.
	daemontest.StaleSocket(t, filepath.Join(dir, "daos_server.sock"))
	daemontest.StaleSocket(t, filepath.Join(dir, "daos_engine0.sock"))
	daemontest.StaleSocket(t, filepath.Join(dir, "other.sock"))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "daos_server.sock.bak"), nil, 0o600))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "daos_engine9.sock"), 0o755))

	statusBefore := statusCalls.Load()
	cfg := writeConfig(t, dir, "engines:", "  - index: 0", "  - index: 1", "    rank: 7")
	srv := startServer(t, daemontest.ProcessOptions{}, "--config", cfg, "--metrics-addr", "127.0.0.1:0")
	line, err := srv.Stdout.ReadString('\n')
	require.NoError(t, err)
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "metrics: ")
	require.True(t, ok, line)
	socket := filepath.Join(dir, "daos_server.sock")
	st, err := os.Stat(socket)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	for _, name := range []string{"other.sock", "daos_server.sock.bak", "daos_engine9.sock"} {
		_, err := os.Lstat(filepath.Join(dir, name))
		assert.NoError(t, err, "%s stays", name)
	}
	_, err = os.Lstat(filepath.Join(dir, "daos_engine0.sock"))
	assert.ErrorIs(t, err, os.ErrNotExist, "the stale engine socket is removed")

	e0, e1 := startEngine(t, dir, 0), startEngine(t, dir, 1)
	require.Eventually(t, func() bool {
		s := status(t, dir)
		return engineIs(s, 0, "ready") && engineIs(s, 1, "ready")
	}, daemontest.WaitFor, daemontest.Tick, "both engines ready, with their ranks set and pinged")
	s := status(t, dir)
	require.Len(t, s.Engines, 2)
	assert.EqualValues(t, 0, s.Engines[0].Rank)
	assert.EqualValues(t, 7, s.Engines[1].Rank, "the configured rank")
	assert.Equal(t, filepath.Join(dir, "daos_engine1.sock"), s.Engines[1].Socket)
	assert.Equal(t, e1.PID(), s.Engines[1].PID)
	require.Eventually(t, func() bool {
		return strings.Contains(e0.Stderr.String(), `msg="set rank" index=0 rank=0`) &&
			strings.Contains(e1.Stderr.String(), `msg="set rank" index=1 rank=7`) &&
			strings.Contains(e1.Stderr.String(), `msg="ping rank" index=1 rank=7`)
	}, daemontest.WaitFor, daemontest.Tick, "each engine logs its calls")

	// A RAS event from an engine.
	code, out, errOut := run(t, engineProgram, "event", "--socket-dir", dir, "--index", "1", "--msg", "disk on fire", "--sequence", "42")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "sequence 42 status 0\n", out)
	s = status(t, dir)
	require.Len(t, s.Events, 1)
	assert.Equal(t, "disk on fire", s.Events[0].Msg)
	assert.EqualValues(t, 42, s.Events[0].Sequence)
	assert.EqualValues(t, 1, s.Events[0].Rank)
	logged(t, srv, `msg="cluster event" sequence=42`)

	// The metrics count exactly the calls made.
	wantStatus := float64(statusCalls.Load() - statusBefore)
	ctx, cancel := context.WithTimeout(context.Background(), daemontest.WaitFor)
	defer cancel()
	var samples metricstest.Samples
	finished := func(module, method string) float64 {
		v, _ := samples.Value("drpc_server_calls_finished_total", "module", module, "method", method, "status", "STATUS_SUCCESS")
		return v
	}
	require.Eventually(t, func() bool {
		samples, err = metricstest.Scrape(ctx, url)
		require.NoError(t, err)
		return finished("1000", controlv1drpc.ControlServiceGetStatusMethod.String()) == wantStatus
	}, daemontest.WaitFor, daemontest.Tick)
	assert.EqualValues(t, 2, finished("3", srvv1drpc.SrvServiceNotifyReadyMethod.String()))
	assert.EqualValues(t, 1, finished("3", srvv1drpc.SrvServiceClusterEventMethod.String()))
	assert.EqualValues(t, 0, finished("4", authv1drpc.SecurityServiceValidateCredentialsMethod.String()), "a zero series from the start")
	started, _ := samples.Value("drpc_server_calls_started_total", "module", "3", "method", srvv1drpc.SrvServiceNotifyReadyMethod.String())
	assert.EqualValues(t, 2, started)

	// Engine 0 dies: unavailable. It restarts: ready again.
	e0.Stop(t, syscall.SIGKILL)
	require.Eventually(t, func() bool { return engineIs(status(t, dir), 0, "unavailable") }, daemontest.WaitFor, daemontest.Tick)
	logged(t, srv, `msg="engine unavailable" index=0`)
	e0b := startEngine(t, dir, 0)
	require.Eventually(t, func() bool { return engineIs(status(t, dir), 0, "ready") }, daemontest.WaitFor, daemontest.Tick)
	assert.Equal(t, e0b.PID(), status(t, dir).Engines[0].PID)

	// SIGTERM: each ready engine is prepared for shutdown, the server
	// exits 0 and removes its socket.
	require.Equal(t, 0, srv.Stop(t, syscall.SIGTERM), srv.Stderr.String())
	assert.True(t, strings.HasPrefix(srv.ReadNotify(t), "STOPPING=1"))
	_, err = os.Lstat(socket)
	assert.ErrorIs(t, err, os.ErrNotExist, "the server's socket is removed")
	for _, e := range []*daemontest.Process{e0b, e1} {
		logged(t, e, `msg="prep shutdown"`)
	}
	assert.Contains(t, srv.Stderr.String(), "server stopped")

	// The engines exit 0 on SIGTERM and remove their sockets.
	for i, e := range []*daemontest.Process{e0b, e1} {
		require.Equal(t, 0, e.Stop(t, syscall.SIGTERM), e.Stderr.String())
		assert.Contains(t, e.Stderr.String(), "prepared_for_shutdown=true")
		_, err := os.Lstat(filepath.Join(dir, "daos_engine"+strconv.Itoa(i)+".sock"))
		assert.ErrorIs(t, err, os.ErrNotExist)
	}
}

// TestEngineWaitsForServer: an engine started before the server notifies
// once the server is up; an engine alone exits 0 on SIGTERM.
func TestEngineWaitsForServer(t *testing.T) {
	dir := daemontest.SocketDir(t)
	e := startEngine(t, dir, 3)
	logged(t, e, "waiting for the server")
	srv := startServer(t, daemontest.ProcessOptions{}, "--config", writeConfig(t, dir))
	require.Eventually(t, func() bool { return engineIs(status(t, dir), 3, "ready") }, daemontest.WaitFor, daemontest.Tick)
	require.Equal(t, 0, e.Stop(t, syscall.SIGTERM), e.Stderr.String())
	// Its socket is gone: the server sees it stopped.
	require.Eventually(t, func() bool { return engineIs(status(t, dir), 3, "stopped") }, daemontest.WaitFor, daemontest.Tick)
	require.Equal(t, 0, srv.Stop(t, syscall.SIGINT))
	assert.NotContains(t, e.Stderr.String(), "prep shutdown", "a stopped engine is not prepared")

	alone := startEngine(t, daemontest.SocketDir(t), 0)
	logged(t, alone, "waiting for the server")
	require.Equal(t, 0, alone.Stop(t, syscall.SIGTERM))
}

// TestCredentialFromRealAgent: a credential that a running drpc-agent
// issued, with a key gen-key made with its defaults, validates (401);
// altered ones fail, each with DAOS's status.
func TestCredentialFromRealAgent(t *testing.T) {
	dir := daemontest.SocketDir(t)
	keys := filepath.Join(dir, "keys")
	require.NoError(t, os.Mkdir(keys, 0o755))
	key := filepath.Join(daemontest.SocketDir(t), "agent.key")
	code, _, errOut := run(t, agentProgram, "gen-key", "--out", key) // its defaults: RSA-3072, as DAOS
	require.Equal(t, 0, code, errOut)
	pub, err := os.ReadFile(key + ".pub")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(keys, "agent.pub"), pub, 0o644))

	agentDir := filepath.Join(dir, "agent")
	agent := daemontest.Start(t, agentProgram.Path(t), daemontest.ProcessOptions{Notify: true}, "start", "--key", key, "--runtime-dir", agentDir)
	agent.WaitReady(t)
	ctx := context.Background()
	aconn := drpc.NewClientConnection(filepath.Join(agentDir, "daos_agent.sock"))
	require.NoError(t, aconn.Connect(ctx))
	defer aconn.Close()
	got, err := authv1drpc.NewSecurityAgentServiceClient(aconn).RequestCredentials(ctx, &authv1.GetCredReq{})
	require.NoError(t, err)
	require.Zero(t, got.GetStatus())
	cred := got.GetCred()
	require.Equal(t, "agent", cred.GetOrigin())

	srv := startServer(t, daemontest.ProcessOptions{}, "--config", writeConfig(t, dir, "credential_max_age: 2s"))
	sconn := drpc.NewClientConnection(filepath.Join(dir, "daos_server.sock"))
	require.NoError(t, sconn.Connect(ctx))
	defer sconn.Close()
	validate := func(c *authv1.Credential) *authv1.ValidateCredResp {
		resp, err := authv1drpc.NewSecurityServiceClient(sconn).ValidateCredentials(ctx, &authv1.ValidateCredReq{Cred: c})
		require.NoError(t, err)
		return resp
	}
	altered := func(edit func(*authv1.Credential)) *authv1.Credential {
		c := proto.CloneOf(cred)
		edit(c)
		return c
	}

	resp := validate(cred)
	require.Zero(t, resp.GetStatus(), "the agent's credential validates")
	assert.True(t, proto.Equal(cred.GetToken(), resp.GetToken()))
	tests := []struct {
		name string
		cred *authv1.Credential
		want int32
	}{
		{"tampered token", altered(func(c *authv1.Credential) { c.Token.Data[len(c.Token.Data)-1] ^= 1 }), -1001},
		{"unknown origin", altered(func(c *authv1.Credential) { c.Origin = "stranger" }), -2043},
		{"path-like origin", altered(func(c *authv1.Credential) { c.Origin = "../keys/agent" }), -1026},
		{"no verifier", altered(func(c *authv1.Credential) { c.Verifier = nil }), -1003},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := validate(tc.cred)
			assert.Equal(t, tc.want, resp.GetStatus())
			assert.Nil(t, resp.GetToken())
		})
	}
	// Once older than credential_max_age (2s), it is expired.
	require.Eventually(t, func() bool { return validate(cred).GetStatus() == -1011 }, 6*time.Second, 100*time.Millisecond)
	logged(t, srv, `msg="credential refused" status=-1011 der=DER_TIMEDOUT reason=expired origin=agent`)

	require.Equal(t, 0, srv.Stop(t, syscall.SIGTERM))
	require.Equal(t, 0, agent.Stop(t, syscall.SIGTERM))
}

// TestSocketActivation: started as systemd starts a socket-activated
// service (a SOCK_SEQPACKET listener as fd 3, LISTEN_FDS=1, LISTEN_PID =
// its pid), the server serves that socket and leaves its file at exit; a
// stream socket is refused.
func TestSocketActivation(t *testing.T) {
	dir := daemontest.SocketDir(t)
	path := filepath.Join(dir, "daos_server.sock")
	f := daemontest.ListenerFile(t, "unixpacket", path)
	daemontest.StaleSocket(t, filepath.Join(dir, "daos_engine5.sock"))

	cfg := writeConfig(t, dir)
	srv := startServer(t, daemontest.ProcessOptions{Activate: []*os.File{f}}, "--config", cfg)
	require.NoError(t, f.Close())
	logged(t, srv, "activated=true")
	_, err := os.Lstat(filepath.Join(dir, "daos_engine5.sock"))
	assert.ErrorIs(t, err, os.ErrNotExist, "stale engine sockets are still removed")

	e := startEngine(t, dir, 0)
	require.Eventually(t, func() bool { return engineIs(status(t, dir), 0, "ready") }, daemontest.WaitFor, daemontest.Tick)
	require.Equal(t, 0, srv.Stop(t, syscall.SIGTERM), srv.Stderr.String())
	st, err := os.Lstat(path)
	require.NoError(t, err, "the socket file belongs to systemd and stays")
	assert.Equal(t, os.ModeSocket, st.Mode().Type())
	logged(t, e, `msg="prep shutdown"`)
	require.Equal(t, 0, e.Stop(t, syscall.SIGTERM))

	// A stream socket is refused, with what to fix.
	sf := daemontest.ListenerFile(t, "unix", filepath.Join(dir, "stream.sock"))
	bad := daemontest.Start(t, serverProgram.Path(t), daemontest.ProcessOptions{Activate: []*os.File{sf}}, "start", "--config", cfg)
	assert.Equal(t, 1, bad.Wait(t))
	assert.Contains(t, bad.Stderr.String(), "SOCK_STREAM")
	assert.Contains(t, bad.Stderr.String(), "ListenSequentialPacket=")
	_, err = os.Lstat(filepath.Join(dir, "daos_server.sock"))
	assert.NoError(t, err, "the refused start leaves the socket as it was")
}

// TestBadStarts: each bad start exits non-zero with one line naming the
// cause, and leaves nothing behind.
func TestBadStarts(t *testing.T) {
	dir := daemontest.SocketDir(t)
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.Mkdir(empty, 0o755))
	missing := filepath.Join(dir, "missing")
	aFile := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(aFile, nil, 0o644))
	config := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
		return p
	}
	typo := config("typo.yaml", "socket_dir: "+empty+"\nping_intervall: 2s\n")
	badValue := config("bad.yaml", "ping_interval: 5\n")
	twice := config("twice.yaml", "engines:\n  - index: 1\n  - index: 1\n")

	busy := filepath.Join(dir, "busy")
	require.NoError(t, os.Mkdir(busy, 0o755))
	live := startServer(t, daemontest.ProcessOptions{}, "--config", writeConfig(t, busy), "--keys-dir", dir)

	open := filepath.Join(dir, "open")
	require.NoError(t, os.Mkdir(open, 0o755))
	require.NoError(t, os.Chmod(open, 0o777))

	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"socket dir any user may write", []string{"start", "--socket-dir", open}, 1,
			[]string{open + " is writable by every user (mode 0777, no sticky bit)", "chmod o-w " + open, "or give another --socket-dir (socket_dir)"}},
		{"bad value of a limit", []string{"start", "--socket-dir", empty, "--config", config("limits.yaml", "limits:\n  max_sessions: -1\n")}, 1,
			[]string{"line 2: limits.max_sessions: negative: use 0 to turn the limit off"}},
		{"socket dir missing", []string{"start", "--socket-dir", missing}, 1, []string{missing, "does not exist", "install -d -m 0755 " + missing}},
		{"socket dir is a file", []string{"start", "--socket-dir", aFile}, 1, []string{aFile, "not a directory"}},
		{"unknown config key", []string{"start", "--config", typo}, 1, []string{"config " + typo + `: line 2: unknown key "ping_intervall" (did you mean "ping_interval"?)`}},
		{"bad config value", []string{"start", "--socket-dir", empty, "--config", badValue}, 1, []string{badValue, "line 1", "ping_interval"}},
		{"index listed twice", []string{"start", "--socket-dir", empty, "--config", twice}, 1, []string{"engines[1]: index 1 is listed twice"}},
		{"missing config", []string{"start", "--config", filepath.Join(dir, "none.yaml")}, 1, []string{"none.yaml: no such file"}},
		{"a live server", []string{"start", "--socket-dir", busy}, 1,
			[]string{filepath.Join(busy, "daos_server.sock"), "process " + strconv.Itoa(live.PID()) + " (drpc-server)", "another --socket-dir"}},
		{"bad metrics addr", []string{"start", "--socket-dir", empty, "--metrics-addr", "9191"}, 1, []string{"metrics_addr", "HOST:PORT"}},
		{"bad log level", []string{"start", "--socket-dir", empty, "--log-level", "loud"}, 1, []string{"log_level", `"loud"`}},
		{"unknown flag", []string{"start", "--nope"}, 2, []string{"unknown flag: --nope"}},
		{"unknown command", []string{"stop"}, 2, []string{`unknown command "stop"`}},
		{"status without a server", []string{"status", "--socket-dir", empty}, 1, []string{"no server is running", filepath.Join(empty, "daos_server.sock")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run(t, serverProgram, tc.args...)
			assert.Equal(t, tc.code, code, stderr)
			assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line on stderr: %q", stderr)
			assert.True(t, strings.HasPrefix(stderr, "drpc-server: "), stderr)
			for _, w := range tc.want {
				assert.Contains(t, stderr, w)
			}
			_, err := os.Stat(missing)
			assert.ErrorIs(t, err, os.ErrNotExist, "a missing socket dir is not created")
			entries, err := os.ReadDir(empty)
			require.NoError(t, err)
			assert.Empty(t, entries, "a failed start leaves nothing in the socket dir")
		})
	}
	// The live server is untouched.
	assert.NotEmpty(t, status(t, busy).Server.Socket)
	require.Equal(t, 0, live.Stop(t, syscall.SIGINT))
}

func TestVersionAndConfigDump(t *testing.T) {
	code, stdout, stderr := run(t, serverProgram, "version")
	require.Equal(t, 0, code, stderr)
	assert.True(t, strings.HasPrefix(stdout, "drpc-server "), stdout)
	assert.Contains(t, stdout, "github.com/cc532012/drpc/server")

	cfg := filepath.Join(daemontest.SocketDir(t), "server.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("engines:\n  - index: 0\n    rank: 3\nmax_events: 10\n"), 0o644))
	code, stdout, stderr = run(t, serverProgram, "config", "dump", "--config", cfg, "--socket-dir", "/run/x", "--keys-dir", "/k", "--log-format", "json")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, `socket_dir: /run/x
keys_dir: /k
allow_insecure: false
credential_max_age: 0s
engines:
  - index: 0
    rank: 3
ping_interval: 1s
call_timeout: 5s
attempt_timeout: 1s
max_events: 10
name: daos_server
port: 10001
listen_address: ""
transport_config:
  allow_insecure: false
  ca_cert: /etc/drpc/certs/daosCA.crt
  cert: /etc/drpc/certs/server.crt
  key: /etc/drpc/certs/server.key
  client_cert_dir: /etc/drpc/certs/clients
client_net_hint:
  provider: ofi+tcp
  interface: ""
  domain: ""
  crt_timeout: 0
  net_dev_class: 0
  srv_srx_set: -1
  env_vars: []
log_level: info
log_format: json
metrics_addr: ""
limits:
  max_sessions: 4096
  max_sessions_per_uid: 1024
  idle_timeout: 2m0s
  message_timeout: 10s
  max_message_size: 64MiB
  max_receive_memory: 256MiB
  max_receive_memory_per_uid: 65MiB
`, stdout)
}

// TestStatusText: the text form of status shows the engines and events.
func TestStatusText(t *testing.T) {
	dir := daemontest.SocketDir(t)
	srv := startServer(t, daemontest.ProcessOptions{}, "--config", writeConfig(t, dir))
	e := startEngine(t, dir, 2)
	require.Eventually(t, func() bool { return engineIs(status(t, dir), 2, "ready") }, daemontest.WaitFor, daemontest.Tick)
	code, _, errOut := run(t, engineProgram, "event", "--socket-dir", dir, "--index", "2", "--msg", "fan failed")
	require.Equal(t, 0, code, errOut)
	code, out, errOut := run(t, serverProgram, "status", "--socket-dir", dir)
	require.Equal(t, 0, code, errOut)
	for _, want := range []string{"server: pid " + strconv.Itoa(srv.PID()), "engines: 1", "INDEX", "ready", filepath.Join(dir, "daos_engine2.sock"), "fan failed"} {
		assert.Contains(t, out, want)
	}
	require.Equal(t, 0, srv.Stop(t, syscall.SIGTERM))
	require.Equal(t, 0, e.Stop(t, syscall.SIGTERM))
}
