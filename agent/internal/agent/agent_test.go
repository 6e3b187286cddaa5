package agent_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/agent/internal/agent"
	"github.com/cc532012/drpc/agent/internal/agenttest"
	authv1drpc "github.com/cc532012/drpc/api/auth/v1/authv1drpc"
	"github.com/cc532012/drpc/daemon/config"
	"github.com/cc532012/drpc/daemon/daemontest"
	"github.com/cc532012/drpc/daemon/host"
	"github.com/cc532012/drpc/daemon/metrics/metricstest"
	"github.com/cc532012/drpc/daemon/rundir"
	"github.com/cc532012/drpc/daemon/tlsconfig"
	"github.com/cc532012/drpc/drpc"
	"github.com/cc532012/drpc/drpc/auth"
)

func logger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// writeKey makes a key of type t and writes it (0600) and its .pub.
func writeKey(t *testing.T, dir, name string, typ auth.KeyType) (string, crypto.Signer) {
	t.Helper()
	key, err := auth.GenerateKey(typ, 2048)
	require.NoError(t, err)
	path := filepath.Join(dir, name)
	require.NoError(t, auth.WriteKeyPair(key, path, true))
	return path, key
}

// testConfig is a configuration for an agent in a fresh temp directory.
func testConfig(t *testing.T) agent.Config {
	t.Helper()
	cfg := agent.DefaultConfig()
	cfg.RuntimeDir = filepath.Join(daemontest.SocketDir(t), "run")
	return cfg
}

func startAgent(t *testing.T, cfg agent.Config, opts agent.Options) *agent.Agent {
	t.Helper()
	a, err := agent.New(cfg, opts)
	require.NoError(t, err)
	require.NoError(t, a.Start(context.Background()))
	t.Cleanup(func() { _ = a.Shutdown(context.Background()) })
	return a
}

// TestAgentInProcess: an agent on a temp directory answers a real client
// with a credential for this process's identity, signed by its key, on a
// socket of mode 0666; Shutdown removes the socket and the directory it
// created.
func TestAgentInProcess(t *testing.T) {
	cfg := testConfig(t)
	keyPath, key := writeKey(t, filepath.Dir(cfg.RuntimeDir), "agent.key", auth.KeyEd25519)
	cfg.KeyFile = keyPath
	a, err := agent.New(cfg, agent.Options{})
	require.NoError(t, err)
	_, err = os.Stat(cfg.RuntimeDir)
	require.ErrorIs(t, err, os.ErrNotExist, "New creates nothing")
	require.NoError(t, a.Start(context.Background()))

	assert.Equal(t, filepath.Join(cfg.RuntimeDir, agent.SocketName), a.SocketPath())
	st, err := os.Stat(a.SocketPath())
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o666), st.Mode().Perm())
	st, err = os.Stat(cfg.RuntimeDir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755), st.Mode().Perm())

	resp := agenttest.RequestCredentials(t, a.SocketPath())
	require.EqualValues(t, 0, resp.GetStatus())
	pub, err := auth.LoadPublicKey(keyPath + ".pub")
	require.NoError(t, err)
	sys, err := auth.Verifier{}.Verify(resp.GetCred(), pub)
	require.NoError(t, err)
	assert.True(t, key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(pub))
	u, err := user.Current()
	require.NoError(t, err)
	assert.Equal(t, u.Username+"@", sys.GetUser())
	assert.Equal(t, "agent", resp.GetCred().GetOrigin())

	require.NoError(t, a.Shutdown(context.Background()))
	_, err = os.Stat(a.SocketPath())
	assert.ErrorIs(t, err, os.ErrNotExist, "the socket is removed")
	_, err = os.Stat(cfg.RuntimeDir)
	assert.ErrorIs(t, err, os.ErrNotExist, "the runtime directory the agent created is removed")
}

// TestStartErrors: each bad start fails with an error naming the cause and
// leaves nothing behind.
func TestStartErrors(t *testing.T) {
	base := daemontest.SocketDir(t)
	goodKey, _ := writeKey(t, base, "good.key", auth.KeyEd25519)
	openKey, _ := writeKey(t, base, "open.key", auth.KeyEd25519)
	require.NoError(t, os.Chmod(openKey, 0o644))
	ecKey := filepath.Join(base, "ec.key")
	agenttest.WriteECKey(t, ecKey)
	garbage := filepath.Join(base, "garbage.key")
	require.NoError(t, os.WriteFile(garbage, []byte("not a key"), 0o600))
	pubAsKey := goodKey + ".pub" // mode 0644: no chmod advice for a public key
	aFile := filepath.Join(base, "file")
	require.NoError(t, os.WriteFile(aFile, nil, 0o644))

	tests := []struct {
		name   string
		change func(*agent.Config)
		is     error
		want   string
	}{
		{"no key", func(c *agent.Config) {}, agent.ErrNoKey, "make one with 'drpc-agent gen-key --out /etc/drpc/agent.key' (RSA"},
		{"missing key", func(c *agent.Config) { c.KeyFile = filepath.Join(base, "missing.key") }, os.ErrNotExist, "missing.key"},
		{"key is a directory", func(c *agent.Config) { c.KeyFile = base }, auth.ErrMalformedKey, "not a regular file"},
		{"key readable by others", func(c *agent.Config) { c.KeyFile = openKey }, auth.ErrKeyPermissions, "chmod 400 " + openKey},
		{"unsupported key type", func(c *agent.Config) { c.KeyFile = ecKey }, auth.ErrUnsupportedKey, "ec.key"},
		{"garbage key", func(c *agent.Config) { c.KeyFile = garbage }, auth.ErrMalformedKey,
			"garbage.key: malformed key: no PEM block found: want a \"PRIVATE KEY\" PEM block: give --key (key_file) the private key file that 'drpc-agent gen-key --out FILE' wrote"},
		{"public key given as the key", func(c *agent.Config) { c.KeyFile = pubAsKey }, auth.ErrMalformedKey,
			pubAsKey + " is a public key, not a private key: give --key (key_file) the private key file that 'drpc-agent gen-key --out FILE' wrote (FILE, not FILE.pub)"},
		{"runtime dir is a file", func(c *agent.Config) { c.KeyFile = goodKey; c.RuntimeDir = aFile }, rundir.ErrNotDirectory, aFile},
		{"bad origin", func(c *agent.Config) { c.KeyFile = goodKey; c.Origin = "../etc" }, auth.ErrBadOrigin, "origin"},
		{"bad cache size", func(c *agent.Config) { c.KeyFile = goodKey; c.CacheSize = 0 }, nil, "cache_size: 0"},
		{"bad log level", func(c *agent.Config) { c.AllowInsecure = true; c.LogLevel = "loud" }, nil, "log_level"},
		{"bad uid map", func(c *agent.Config) { c.AllowInsecure = true; c.UIDMap = map[uint32]string{7: "a@b"} }, nil, "uid_map: 7"},
		{"metrics port in use", nil, nil, "choose another --metrics-addr"},
		{"bad access point", func(c *agent.Config) { c.AllowInsecure = true; c.AccessPoints = []string{"host:0"} }, nil, "access_points[0]: access point \"host:0\""},
		{"missing certificates", func(c *agent.Config) {
			c.AllowInsecure = true
			c.AccessPoints = []string{"127.0.0.1"}
			c.Transport.CACert = filepath.Join(base, "none", "daosCA.crt")
		}, os.ErrNotExist, "transport_config: ca_cert"},
		{"no certificate named", func(c *agent.Config) {
			c.AllowInsecure = true
			c.AccessPoints = []string{"127.0.0.1"}
			c.Transport.Cert = ""
		}, nil, "transport_config.cert: empty"},
		{"bad attach info ttl", func(c *agent.Config) { c.AllowInsecure = true; c.AttachInfoTTL = -1 }, nil, "attach_info_ttl"},
		{"bad system name", func(c *agent.Config) { c.AllowInsecure = true; c.Name = "a b" }, nil, "name:"},
		{"bad port", func(c *agent.Config) { c.AllowInsecure = true; c.Port = 0 }, nil, "port: 0"},
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := agent.DefaultConfig()
			cfg.RuntimeDir = filepath.Join(base, "run-"+strings.ReplaceAll(tt.name, " ", "-"))
			if tt.change != nil {
				tt.change(&cfg)
			} else {
				cfg.AllowInsecure = true
				cfg.MetricsAddr = busy.Addr().String()
			}
			a, err := agent.New(cfg, agent.Options{})
			if err == nil {
				err = a.Start(context.Background())
			}
			require.Error(t, err)
			if tt.is != nil {
				assert.ErrorIs(t, err, tt.is)
			}
			assert.Contains(t, err.Error(), tt.want)
			if cfg.RuntimeDir != aFile {
				_, serr := os.Stat(cfg.RuntimeDir)
				assert.ErrorIs(t, serr, os.ErrNotExist, "a failed start leaves no runtime directory")
			}
		})
	}
}

// TestSecondAgentRefused: a second agent on a live socket fails, names the
// socket and the process that serves it, and leaves the first one serving.
func TestSecondAgentRefused(t *testing.T) {
	cfg := testConfig(t)
	cfg.AllowInsecure = true
	first := startAgent(t, cfg, agent.Options{})

	second, err := agent.New(cfg, agent.Options{})
	require.NoError(t, err)
	err = second.Start(context.Background())
	require.ErrorIs(t, err, host.ErrSocketInUse)
	require.ErrorIs(t, err, drpc.ErrSocketInUse)
	assert.Contains(t, err.Error(), first.SocketPath())
	assert.Contains(t, err.Error(), "process "+strconv.Itoa(os.Getpid()))

	require.EqualValues(t, 0, agenttest.RequestCredentials(t, first.SocketPath()).GetStatus(), "the first agent still serves")
}

// TestStaleSocketReplaced: a socket file left by a crashed agent is removed
// and the agent starts.
func TestStaleSocketReplaced(t *testing.T) {
	cfg := testConfig(t)
	cfg.AllowInsecure = true
	require.NoError(t, os.MkdirAll(cfg.RuntimeDir, 0o755))
	daemontest.StaleSocket(t, cfg.SocketPath())
	a := startAgent(t, cfg, agent.Options{})
	require.EqualValues(t, 0, agenttest.RequestCredentials(t, a.SocketPath()).GetStatus())
	require.NoError(t, a.Shutdown(context.Background()))
	_, err := os.Stat(cfg.RuntimeDir)
	assert.NoError(t, err, "a runtime directory the agent did not create stays")
}

// TestReload: Reload re-reads the key and empties the cache; a bad new key
// is refused and the old one stays.
func TestReload(t *testing.T) {
	cfg := testConfig(t)
	dir := filepath.Dir(cfg.RuntimeDir)
	cfg.KeyFile, _ = writeKey(t, dir, "agent.key", auth.KeyEd25519)
	a := startAgent(t, cfg, agent.Options{})
	pubA, err := auth.LoadPublicKey(cfg.KeyFile + ".pub")
	require.NoError(t, err)
	_, err = auth.Verifier{}.Verify(agenttest.RequestCredentials(t, a.SocketPath()).GetCred(), pubA)
	require.NoError(t, err)

	_, keyB := writeKey(t, dir, "agent.key", auth.KeyRSA) // rotate in place
	require.NoError(t, a.Reload())
	_, err = auth.Verifier{}.Verify(agenttest.RequestCredentials(t, a.SocketPath()).GetCred(), keyB.Public())
	require.NoError(t, err, "after reload, credentials are signed with the new key (the cache was emptied)")

	require.NoError(t, os.WriteFile(cfg.KeyFile, []byte("broken"), 0o600))
	err = a.Reload()
	require.ErrorIs(t, err, auth.ErrMalformedKey)
	assert.Contains(t, err.Error(), "keeping the current key")
	_, err = auth.Verifier{}.Verify(agenttest.RequestCredentials(t, a.SocketPath()).GetCred(), keyB.Public())
	require.NoError(t, err, "a bad new key keeps the old one")
}

// TestRun: Run serves until SIGTERM; SIGUSR2 reloads; SIGPIPE is ignored;
// systemd hears READY=1 then STOPPING=1; the socket is gone afterwards.
func TestRun(t *testing.T) {
	cfg := testConfig(t)
	cfg.AllowInsecure = true
	notify := daemontest.SetNotifySocket(t)
	var logs daemontest.SyncBuffer
	ready := make(chan *agent.Agent, 1)
	done := make(chan error, 1)
	a, err := agent.New(cfg, agent.Options{Logger: logger(&logs)})
	require.NoError(t, err)
	go func() {
		done <- host.Run(context.Background(), a.Host, host.RunOptions{Ready: func() { ready <- a }})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Run returned early: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("agent did not become ready")
	}
	assert.Equal(t, "READY=1\nSTATUS=serving credentials on "+cfg.SocketPath(), notify.Read(t))
	require.EqualValues(t, 0, agenttest.RequestCredentials(t, a.SocketPath()).GetStatus())

	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGUSR2))
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "credential cache emptied") }, 5*time.Second, time.Millisecond)
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGPIPE))
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "signal=\"broken pipe\"") }, 5*time.Second, time.Millisecond)
	require.EqualValues(t, 0, agenttest.RequestCredentials(t, a.SocketPath()).GetStatus(), "still serving after SIGUSR2 and SIGPIPE")

	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGTERM))
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after SIGTERM")
	}
	assert.Equal(t, "STOPPING=1\nSTATUS=stopping", notify.Read(t))
	_, err = os.Stat(cfg.SocketPath())
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// TestNewNoKey: an agent without a key does not build.
func TestNewNoKey(t *testing.T) {
	_, err := agent.New(testConfig(t), agent.Options{})
	require.ErrorIs(t, err, agent.ErrNoKey)
}

// TestMetrics: with metrics_addr 127.0.0.1:0, calls of method 101 show in a
// scrape of the endpoint with the right counts.
func TestMetrics(t *testing.T) {
	cfg := testConfig(t)
	cfg.AllowInsecure = true
	cfg.MetricsAddr = "127.0.0.1:0"
	a := startAgent(t, cfg, agent.Options{})
	require.True(t, strings.HasPrefix(a.MetricsURL(), "http://127.0.0.1:"), a.MetricsURL())

	const calls = 5
	for range calls {
		require.EqualValues(t, 0, agenttest.RequestCredentials(t, a.SocketPath()).GetStatus())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	method := authv1drpc.SecurityAgentServiceRequestCredentialsMethod.String()
	// The server reports a call finished after it sent the reply: wait for
	// the last one.
	var s metricstest.Samples
	require.Eventually(t, func() bool {
		var err error
		s, err = metricstest.Scrape(ctx, a.MetricsURL())
		require.NoError(t, err)
		v, _ := s.Value("drpc_server_calls_finished_total", "module", "1", "method", method, "status", "STATUS_SUCCESS")
		return v == calls
	}, 5*time.Second, 5*time.Millisecond)
	v, ok := s.Value("drpc_server_calls_started_total", "module", "1", "method", method)
	require.True(t, ok)
	assert.EqualValues(t, calls, v)
	v, _ = s.Value("drpc_server_call_duration_seconds_count", "module", "1", "method", method)
	assert.EqualValues(t, calls, v)
	v, _ = s.Value("drpc_server_sessions_opened_total")
	assert.EqualValues(t, calls, v)
	v, _ = s.Value("drpc_server_reply_bytes_total", "module", "1", "method", method)
	assert.Positive(t, v)
}

// TestNobodyGetsItsOwnIdentity: as root, a child process running as uid
// 65534 gets that uid's identity; one whose uid has no name gets the
// uid_map/gid_map names, and one that is in no map a failure status.
func TestNobodyGetsItsOwnIdentity(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a child as another user")
	}
	dir := daemontest.SocketDir(t)
	require.NoError(t, os.Chmod(dir, 0o755))
	self, err := os.Executable()
	require.NoError(t, err)
	bin := filepath.Join(dir, "client.test")
	copyFile(t, self, bin, 0o755)

	const ghost, stranger = 54321, 54322
	cfg := agent.DefaultConfig()
	cfg.RuntimeDir = filepath.Join(dir, "run")
	cfg.AllowInsecure = true
	cfg.UIDMap = map[uint32]string{ghost: "ghost"}
	cfg.GIDMap = map[uint32]string{ghost: "ghosts"}
	a := startAgent(t, cfg, agent.Options{})

	nobody, nobodyGroup := "65534@", "65534@"
	if u, err := user.LookupId("65534"); err == nil {
		nobody = u.Username + "@"
	}
	if g, err := user.LookupGroupId("65534"); err == nil {
		nobodyGroup = g.Name + "@"
	}
	tests := []struct {
		name     string
		uid, gid uint32
		want     clientResult
	}{
		{"nobody", 65534, 65534, clientResult{User: nobody, Group: nobodyGroup, Groups: nil}},
		{"no name, mapped", ghost, ghost, clientResult{User: "ghost@", Group: "ghosts@"}},
		{"no name, not mapped (-1025, as DAOS's agent)", stranger, stranger, clientResult{Status: -1025}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "nobody" && nobody == "65534@" {
				t.Skip("uid 65534 has no name on this machine")
			}
			cmd := exec.Command(bin, "-test.run=^$")
			cmd.Dir = dir
			// atexit_sleep_ms: a race-enabled child would wait a second at exit.
			cmd.Env = append(os.Environ(), clientEnv+"="+a.SocketPath(), "GORACE=atexit_sleep_ms=0")
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: tt.uid, Gid: tt.gid, Groups: []uint32{}}}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			require.NoError(t, err, "child: %s %s", out, stderr.String())
			var got clientResult
			require.NoError(t, json.Unmarshal(out, &got), string(out))
			assert.Equal(t, tt.want, got)
		})
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(from)
	require.NoError(t, err)
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	require.NoError(t, err)
	_, err = io.Copy(out, in)
	require.NoError(t, err)
	require.NoError(t, out.Close())
}

// TestActivatedListener: an agent given a listener serves it and leaves
// its file in place at shutdown.
func TestActivatedListener(t *testing.T) {
	path := filepath.Join(daemontest.SocketDir(t), "act.sock")
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	require.NoError(t, err)
	ln.SetUnlinkOnClose(false)
	cfg := testConfig(t)
	cfg.AllowInsecure = true
	a := startAgent(t, cfg, agent.Options{Listener: ln})
	assert.Equal(t, path, a.SocketPath())
	require.EqualValues(t, 0, agenttest.RequestCredentials(t, path).GetStatus())
	require.NoError(t, a.Shutdown(context.Background()))
	_, err = os.Stat(path)
	assert.NoError(t, err, "an inherited socket file is not removed")
	_, err = os.Stat(cfg.RuntimeDir)
	assert.ErrorIs(t, err, os.ErrNotExist, "an activated agent does not create its runtime directory")
}

func TestGenerateKey(t *testing.T) {
	dir := daemontest.SocketDir(t)
	out := filepath.Join(dir, "k")
	files, err := agent.GenerateKey("", 0, out, false)
	require.NoError(t, err)
	assert.Equal(t, agent.KeyFiles{Private: out, Public: out + ".pub", Type: auth.KeyRSA, Bits: 3072}, files,
		"RSA-3072 by default, as DAOS")
	st, err := os.Stat(out)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o400), st.Mode().Perm(), "as DAOS's agent wants it")
	st, err = os.Stat(files.Public)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), st.Mode().Perm())
	k, err := auth.LoadPrivateKey(out)
	require.NoError(t, err)
	assert.Equal(t, 3072, k.Public().(*rsa.PublicKey).N.BitLen())

	_, err = agent.GenerateKey("ed25519", 0, out, false)
	require.ErrorIs(t, err, auth.ErrKeyExists)
	assert.Equal(t, "gen-key: key file already exists: "+out+": remove it, or pass --force to overwrite it", err.Error())
	_, err = agent.GenerateKey("ed25519", 0, out, true)
	require.NoError(t, err)
	k, err = auth.LoadPrivateKey(out)
	require.NoError(t, err)
	kt, err := auth.KeyTypeOf(k)
	require.NoError(t, err)
	assert.Equal(t, auth.KeyEd25519, kt)

	_, err = agent.GenerateKey("dsa", 0, filepath.Join(dir, "x"), false)
	require.ErrorContains(t, err, "--type")
	_, err = agent.GenerateKey("ed25519", 2048, filepath.Join(dir, "x"), false)
	require.ErrorContains(t, err, "--bits applies to rsa keys only")
	_, err = agent.GenerateKey("rsa", 1024, filepath.Join(dir, "x"), false)
	require.ErrorIs(t, err, auth.ErrUnsupportedKey)
	_, err = agent.GenerateKey("ed25519", 0, "", false)
	require.ErrorContains(t, err, "--out")
	_, err = os.Stat(filepath.Join(dir, "x"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// TestGenerateKeyMakesDirectories: gen-key --out /etc/drpc/agent.key on a
// host without /etc/drpc creates it (0755 whatever the umask, as install
// -d); an existing directory keeps its mode; a failure removes what it
// created.
func TestGenerateKeyMakesDirectories(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	root := daemontest.SocketDir(t)
	out := filepath.Join(root, "etc", "drpc", "agent.key")
	files, err := agent.GenerateKey("ed25519", 0, out, false)
	require.NoError(t, err)
	assert.Equal(t, []string{filepath.Join(root, "etc"), filepath.Join(root, "etc", "drpc")}, files.Created)
	for _, d := range files.Created {
		st, err := os.Stat(d)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o755), st.Mode().Perm(), d)
	}
	_, err = auth.LoadPrivateKey(out)
	require.NoError(t, err)

	// An existing directory is never changed, even a stricter or looser one.
	for _, mode := range []os.FileMode{0o700, 0o775} {
		existing := filepath.Join(root, "existing"+mode.String())
		require.NoError(t, os.Mkdir(existing, mode))
		require.NoError(t, os.Chmod(existing, mode))
		files, err := agent.GenerateKey("ed25519", 0, filepath.Join(existing, "new", "agent.key"), false)
		require.NoError(t, err)
		assert.Equal(t, []string{filepath.Join(existing, "new")}, files.Created)
		st, err := os.Stat(existing)
		require.NoError(t, err)
		assert.Equal(t, mode, st.Mode().Perm())
	}

	// A file in the way: an error, and nothing created.
	require.NoError(t, os.WriteFile(filepath.Join(root, "file"), nil, 0o644))
	_, err = agent.GenerateKey("ed25519", 0, filepath.Join(root, "file", "sub", "agent.key"), false)
	require.ErrorContains(t, err, "is not a directory")
	_, err = os.Stat(filepath.Join(root, "file", "sub"))
	assert.Error(t, err)
}

func TestConfigDefaultsAndDump(t *testing.T) {
	cfg := agent.DefaultConfig()
	assert.Equal(t, rundir.Default("daos_agent"), cfg.RuntimeDir)
	assert.Equal(t, "agent", cfg.Origin)
	assert.Equal(t, time.Minute, cfg.CacheTTL.Std())
	assert.Equal(t, 1024, cfg.CacheSize)
	assert.Equal(t, "info", cfg.LogLevel)
	assert.Equal(t, "text", cfg.LogFormat)
	assert.Empty(t, cfg.MetricsAddr)
	require.NoError(t, cfg.Validate())

	var buf bytes.Buffer
	require.NoError(t, config.Dump(&buf, cfg))
	keys := []string{}
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if !strings.HasPrefix(line, " ") {
			keys = append(keys, strings.SplitN(line, ":", 2)[0])
		}
	}
	assert.Equal(t, []string{"runtime_dir", "key_file", "origin", "allow_insecure", "cache_ttl", "cache_size",
		"credential_max_age", "uid_map", "gid_map", "name", "access_points", "port", "transport_config", "attach_info_ttl",
		"log_level", "log_format", "metrics_addr", "limits"}, keys)

	back := agent.DefaultConfig()
	require.NoError(t, config.Decode(buf.Bytes(), "dump", &back))
	assert.Equal(t, cfg, back)
}

func TestConfigFile(t *testing.T) {
	path := filepath.Join(daemontest.SocketDir(t), "agent.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`runtime_dir: /run/x
key_file: /etc/drpc/agent.key
origin: node1
cache_ttl: 30s
cache_size: 10
uid_map:
  1000: alice
gid_map:
  1000: staff
log_level: debug
log_format: json
metrics_addr: :9191
`), 0o644))
	cfg := agent.DefaultConfig()
	_, err := config.Load(path, &cfg)
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	assert.Equal(t, agent.Config{
		RuntimeDir: "/run/x", KeyFile: "/etc/drpc/agent.key", Origin: "node1",
		CacheTTL: config.Duration(30 * time.Second), CacheSize: 10,
		UIDMap: map[uint32]string{1000: "alice"}, GIDMap: map[uint32]string{1000: "staff"},
		Name: agent.DefaultName, AccessPoints: []string{}, Port: 10001, Transport: tlsconfig.DefaultConfig("agent"),
		AttachInfoTTL: config.Duration(agent.DefaultAttachInfoTTL),
		Common:        cfg.Common,
	}, cfg)
	assert.Equal(t, "debug", cfg.LogLevel)
	assert.Equal(t, "json", cfg.LogFormat)
	assert.Equal(t, ":9191", cfg.MetricsAddr)

	require.NoError(t, os.WriteFile(path, []byte("runtime_dir: /x\ncach_ttl: 1m\n"), 0o644))
	_, err = config.Load(path, &cfg)
	require.ErrorIs(t, err, config.ErrUnknownKey)
	assert.Equal(t, "config "+path+`: line 2: unknown key "cach_ttl" (did you mean "cache_ttl"?)`, err.Error())
}
