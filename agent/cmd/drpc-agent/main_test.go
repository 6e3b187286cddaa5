package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/agent/internal/agenttest"
	authv1drpc "github.com/cc532012/drpc/api/auth/v1/authv1drpc"
	"github.com/cc532012/drpc/daemon/daemontest"
	"github.com/cc532012/drpc/daemon/metrics/metricstest"
	"github.com/cc532012/drpc/drpc/auth"
)

// agentProgram is drpc-agent, built once for these tests as users build it.
var agentProgram = &daemontest.Program{Name: "drpc-agent", Module: "."}

func TestMain(m *testing.M) { os.Exit(daemontest.Main(m)) }

// run runs the binary to completion and returns its exit code and output.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	r := daemontest.Run(t, exec.Command(agentProgram.Path(t), args...))
	return r.Code, r.Stdout, r.Stderr
}

// start starts `drpc-agent start args...` with a notify socket of its own,
// and waits for READY=1. With files, the binary is started the way systemd
// starts a socket-activated service (files as fds 3, 4, ..., LISTEN_FDS,
// and LISTEN_PID set to its own pid).
func start(t *testing.T, files []*os.File, args ...string) *daemontest.Process {
	t.Helper()
	d := startNoWait(t, files, args...)
	d.WaitReady(t)
	return d
}

func startNoWait(t *testing.T, files []*os.File, args ...string) *daemontest.Process {
	t.Helper()
	opts := daemontest.ProcessOptions{Notify: true, Activate: files}
	return daemontest.Start(t, agentProgram.Path(t), opts, append([]string{"start"}, args...)...)
}

// TestLifecycle: gen-key, start, calls, a scrape of the metrics, SIGUSR2,
// SIGPIPE, then SIGTERM -> exit 0, STOPPING=1, and no socket left.
func TestLifecycle(t *testing.T) {
	dir := daemontest.SocketDir(t)
	key := filepath.Join(dir, "agent.key")
	code, stdout, stderr := run(t, "gen-key", "--type", "ed25519", "--out", key)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "wrote "+key)

	runDir := filepath.Join(dir, "run")
	socket := filepath.Join(runDir, "daos_agent.sock")
	d := start(t, nil, "--key", key, "--runtime-dir", runDir, "--metrics-addr", "127.0.0.1:0", "--log-level", "debug")
	line, err := d.Stdout.ReadString('\n')
	require.NoError(t, err)
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "metrics: ")
	require.True(t, ok, line)

	st, err := os.Stat(socket)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o666), st.Mode().Perm())

	pub, err := auth.LoadPublicKey(key + ".pub")
	require.NoError(t, err)
	const calls = 3
	for range calls {
		resp := agenttest.RequestCredentials(t, socket)
		require.EqualValues(t, 0, resp.GetStatus())
		_, err := auth.Verifier{}.Verify(resp.GetCred(), pub)
		require.NoError(t, err)
	}
	method := authv1drpc.SecurityAgentServiceRequestCredentialsMethod.String()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var s metricstest.Samples
	require.Eventually(t, func() bool {
		s, err = metricstest.Scrape(ctx, url)
		require.NoError(t, err)
		v, _ := s.Value("drpc_server_calls_finished_total", "module", "1", "method", method, "status", "STATUS_SUCCESS")
		return v == calls
	}, 10*time.Second, 10*time.Millisecond)
	v, _ := s.Value("drpc_server_calls_started_total", "module", "1", "method", method)
	assert.EqualValues(t, calls, v)

	d.Signal(t, syscall.SIGUSR2)
	d.Signal(t, syscall.SIGPIPE)
	require.EqualValues(t, 0, agenttest.RequestCredentials(t, socket).GetStatus(), "still serving after SIGUSR2 and SIGPIPE")

	require.Equal(t, 0, d.Stop(t, syscall.SIGTERM), d.Stderr.String())
	msg := d.ReadNotify(t)
	assert.True(t, strings.HasPrefix(msg, "STOPPING=1"), msg)
	_, err = os.Stat(socket)
	assert.ErrorIs(t, err, os.ErrNotExist, "the socket is removed")
	_, err = os.Stat(runDir)
	assert.ErrorIs(t, err, os.ErrNotExist, "the runtime directory the agent made is removed")
	logs := d.Stderr.String()
	assert.Contains(t, logs, "credential cache emptied")
	assert.Contains(t, logs, `signal="broken pipe"`)
	assert.Contains(t, logs, "agent stopped")
}

// TestBadStarts: each bad start exits non-zero with one line naming the
// cause, and leaves nothing behind.
func TestBadStarts(t *testing.T) {
	dir := daemontest.SocketDir(t)
	key := filepath.Join(dir, "good.key")
	code, _, stderr := run(t, "gen-key", "--out", key)
	require.Equal(t, 0, code, stderr)
	openKey := filepath.Join(dir, "open.key")
	code, _, stderr = run(t, "gen-key", "--out", openKey)
	require.Equal(t, 0, code, stderr)
	require.NoError(t, os.Chmod(openKey, 0o644))
	ecKey := filepath.Join(dir, "ec.key")
	agenttest.WriteECKey(t, ecKey)
	aFile := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(aFile, nil, 0o644))
	garbage := filepath.Join(dir, "garbage.key")
	require.NoError(t, os.WriteFile(garbage, []byte("not a key\n"), 0o400))
	typo := filepath.Join(dir, "typo.yaml")
	require.NoError(t, os.WriteFile(typo, []byte("origin: agent\ncach_ttl: 5m\n"), 0o644))
	badValue := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(badValue, []byte("cache_ttl: 5 minutes\n"), 0o644))

	// A live agent, for "socket in use".
	busyDir := filepath.Join(dir, "busy")
	live := start(t, nil, "--key", key, "--runtime-dir", busyDir)

	runDir := filepath.Join(dir, "run")
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"no key", []string{"start", "--runtime-dir", runDir}, 1, []string{"no signing key", "drpc-agent gen-key"}},
		{"unreadable key (missing)", []string{"start", "--runtime-dir", runDir, "--key", filepath.Join(dir, "missing.key")}, 1, []string{"missing.key", "no such file"}},
		{"unreadable key (a directory)", []string{"start", "--runtime-dir", runDir, "--key", dir}, 1, []string{"not a regular file"}},
		{"key mode 0644", []string{"start", "--runtime-dir", runDir, "--key", openKey}, 1, []string{"permissions are too open", "chmod 400 " + openKey}},
		{"public key given as the key", []string{"start", "--runtime-dir", runDir, "--key", key + ".pub"}, 1,
			[]string{key + ".pub is a public key, not a private key", "(FILE, not FILE.pub)"}},
		{"garbage key", []string{"start", "--runtime-dir", runDir, "--key", garbage}, 1,
			[]string{"no PEM block found", "give --key (key_file) the private key file that 'drpc-agent gen-key --out FILE' wrote"}},
		{"unknown key type", []string{"start", "--runtime-dir", runDir, "--key", ecKey}, 1, []string{"unsupported key", ecKey}},
		{"runtime dir is a file", []string{"start", "--runtime-dir", aFile, "--key", key}, 1, []string{aFile, "not a directory"}},
		{"unknown config key", []string{"start", "--runtime-dir", runDir, "--key", key, "--config", typo}, 1,
			[]string{"config " + typo + `: line 2: unknown key "cach_ttl" (did you mean "cache_ttl"?)`}},
		{"bad config value", []string{"start", "--runtime-dir", runDir, "--key", key, "--config", badValue}, 1,
			[]string{`line 1: bad value "5 minutes" for key "cache_ttl"`}},
		{"missing config", []string{"start", "--config", filepath.Join(dir, "none.yaml")}, 1, []string{"none.yaml: no such file"}},
		{"socket in use", []string{"start", "--runtime-dir", busyDir, "--key", key}, 1,
			[]string{filepath.Join(busyDir, "daos_agent.sock"), "process " + strconv.Itoa(live.PID()), "drpc-agent"}},
		{"bad cache ttl flag", []string{"start", "--cache-ttl", "60"}, 2, []string{`invalid duration "60"`, "drpc-agent start --help"}},
		{"unknown flag", []string{"start", "--nope"}, 2, []string{"unknown flag: --nope"}},
		{"unknown command", []string{"stop"}, 2, []string{`unknown command "stop"`}},
		{"bad log format", []string{"start", "--log-format", "xml", "--allow-insecure", "--runtime-dir", runDir}, 1, []string{"log_format", `"xml"`}},
		{"bad metrics addr", []string{"start", "--metrics-addr", "9191", "--allow-insecure", "--runtime-dir", runDir}, 1, []string{"metrics_addr", "HOST:PORT"}},
		{"gen-key unknown type", []string{"gen-key", "--type", "dsa", "--out", filepath.Join(dir, "x.key")}, 1, []string{"dsa"}},
		{"gen-key exists", []string{"gen-key", "--out", key}, 1, []string{"key file already exists: " + key + ": remove it, or pass --force to overwrite it"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := run(t, tt.args...)
			assert.Equal(t, tt.code, code, stderr)
			assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line on stderr: %q", stderr)
			assert.True(t, strings.HasPrefix(stderr, "drpc-agent: "), stderr)
			for _, w := range tt.want {
				assert.Contains(t, stderr, w)
			}
			assert.LessOrEqual(t, strings.Count(stderr, "--force"), 1, "a hint is given once")
			if strings.Contains(tt.name, "public key") {
				assert.NotContains(t, stderr, "chmod", "a public key is not too open")
			}
			_, err := os.Stat(runDir)
			assert.ErrorIs(t, err, os.ErrNotExist, "a failed start leaves no runtime directory")
			_, err = os.Stat(filepath.Join(dir, "x.key"))
			assert.ErrorIs(t, err, os.ErrNotExist)
		})
	}
	// The live agent is untouched.
	require.EqualValues(t, 0, agenttest.RequestCredentials(t, filepath.Join(busyDir, "daos_agent.sock")).GetStatus())
	require.Equal(t, 0, live.Stop(t, syscall.SIGINT))
}

// TestSocketActivation: started like systemd starts a socket-activated
// service (a SOCK_SEQPACKET listener as fd 3, LISTEN_FDS=1, LISTEN_PID),
// the agent serves that socket and leaves its file at exit; a stream
// socket is refused.
func TestSocketActivation(t *testing.T) {
	dir := daemontest.SocketDir(t)
	path := filepath.Join(dir, "daos_agent.sock")
	f := daemontest.ListenerFile(t, "unixpacket", path)

	runDir := filepath.Join(dir, "run")
	d := start(t, []*os.File{f}, "--allow-insecure", "--runtime-dir", runDir)
	f.Close()
	resp := agenttest.RequestCredentials(t, path)
	require.EqualValues(t, 0, resp.GetStatus())
	_, err := auth.Verifier{AllowInsecure: true}.Verify(resp.GetCred(), nil)
	require.NoError(t, err)

	require.Equal(t, 0, d.Stop(t, syscall.SIGTERM), d.Stderr.String())
	st, err := os.Lstat(path)
	require.NoError(t, err, "the socket file belongs to systemd and stays")
	assert.Equal(t, os.ModeSocket, st.Mode().Type())
	_, err = os.Stat(runDir)
	assert.ErrorIs(t, err, os.ErrNotExist, "an activated agent does not use its runtime directory")
	assert.Contains(t, d.Stderr.String(), "activated=true")

	// A stream socket is refused.
	sf := daemontest.ListenerFile(t, "unix", filepath.Join(dir, "stream.sock"))
	bad := startNoWait(t, []*os.File{sf}, "--allow-insecure", "--runtime-dir", runDir)
	assert.Equal(t, 1, bad.Wait(t))
	assert.Contains(t, bad.Stderr.String(), "SOCK_STREAM")
	assert.Contains(t, bad.Stderr.String(), "ListenSequentialPacket=")
}

func TestVersionAndConfigDump(t *testing.T) {
	code, stdout, stderr := run(t, "version")
	require.Equal(t, 0, code, stderr)
	assert.True(t, strings.HasPrefix(stdout, "drpc-agent "), stdout)
	assert.Contains(t, stdout, "github.com/cc532012/drpc/agent")
	assert.Contains(t, stdout, "github.com/cc532012/drpc/drpc ")

	dir := daemontest.SocketDir(t)
	cfgFile := filepath.Join(dir, "agent.yaml")
	require.NoError(t, os.WriteFile(cfgFile, []byte("origin: node7\ncache_size: 5\nuid_map:\n  1000: alice\n"), 0o644))
	code, stdout, stderr = run(t, "config", "dump", "--config", cfgFile, "--cache-ttl", "5s", "--runtime-dir", "/run/x", "--log-format", "json")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, `runtime_dir: /run/x
key_file: ""
origin: node7
allow_insecure: false
cache_ttl: 5s
cache_size: 5
credential_max_age: 0s
uid_map:
  1000: alice
gid_map: {}
name: daos_server
access_points: []
port: 10001
transport_config:
  allow_insecure: false
  ca_cert: /etc/drpc/certs/daosCA.crt
  cert: /etc/drpc/certs/agent.crt
  key: /etc/drpc/certs/agent.key
attach_info_ttl: 5m0s
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
