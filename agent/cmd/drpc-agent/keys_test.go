package main

import (
	"crypto/rsa"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/agent/internal/agenttest"
	"github.com/cc532012/drpc/daemon/daemontest"
	"github.com/cc532012/drpc/drpc/auth"
)

// TestGenKeyAsTheDocsSay: `drpc-agent gen-key --out /etc/drpc/agent.key`,
// literally, on a host without /etc/drpc: the directories are made (0755),
// the key is RSA-3072 (what DAOS verifies) with mode 0400 (what DAOS's
// agent wants), and an agent started with it hands out credentials that
// the .pub verifies.
func TestGenKeyAsTheDocsSay(t *testing.T) {
	old := syscall.Umask(0o077) // a strict umask does not make the directories unreadable
	defer syscall.Umask(old)
	root := daemontest.SocketDir(t)
	key := filepath.Join(root, "etc", "drpc", "agent.key")
	code, stdout, stderr := run(t, "gen-key", "--out", key)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "created "+filepath.Join(root, "etc")+" (mode 0755)\n"+
		"created "+filepath.Join(root, "etc", "drpc")+" (mode 0755)\n"+
		"wrote "+key+" (rsa-3072 private key, mode 0400) and "+key+".pub (public key: install it in each server's keys directory as agent.pub, or <origin>.pub)\n",
		stdout)
	for path, mode := range map[string]os.FileMode{
		filepath.Join(root, "etc"): 0o755, filepath.Join(root, "etc", "drpc"): 0o755, key: 0o400, key + ".pub": 0o644,
	} {
		st, err := os.Stat(path)
		require.NoError(t, err)
		assert.Equal(t, mode, st.Mode().Perm(), path)
	}
	pub, err := auth.LoadPublicKey(key + ".pub")
	require.NoError(t, err)
	require.Equal(t, 3072, pub.(*rsa.PublicKey).N.BitLen())

	runDir := filepath.Join(root, "run")
	d := start(t, nil, "--key", key, "--runtime-dir", runDir)
	resp := agenttest.RequestCredentials(t, filepath.Join(runDir, "daos_agent.sock"))
	require.EqualValues(t, 0, resp.GetStatus())
	_, err = auth.Verifier{}.Verify(resp.GetCred(), pub)
	require.NoError(t, err)
	assert.Equal(t, "rsa-3072 (unchecked)", auth.SignatureKind(resp.GetCred()))
	require.Equal(t, 0, d.Stop(t, syscall.SIGTERM))
	assert.Contains(t, d.Stderr.String(), "key=rsa", "stderr is whole once the agent exited")

	// Again: refused, the hint said once, nothing changed.
	before, err := os.ReadFile(key + ".pub")
	require.NoError(t, err)
	code, _, stderr = run(t, "gen-key", "--out", key)
	assert.Equal(t, 1, code)
	assert.Equal(t, "drpc-agent: gen-key: key file already exists: "+key+": remove it, or pass --force to overwrite it\n", stderr)
	after, err := os.ReadFile(key + ".pub")
	require.NoError(t, err)
	assert.Equal(t, before, after)

	// --force replaces the pair, 0400 again.
	code, stdout, stderr = run(t, "gen-key", "--type", "ed25519", "--out", key, "--force")
	require.Equal(t, 0, code, stderr)
	assert.True(t, strings.HasPrefix(stdout, "wrote "+key+" (ed25519 private key, mode 0400)"), stdout)
}

// TestGenKeyHelp: gen-key's help says which peers accept which key type,
// and lists only the flags that apply to it.
func TestGenKeyHelp(t *testing.T) {
	code, stdout, stderr := run(t, "gen-key", "--help")
	require.Equal(t, 0, code, stderr)
	for _, want := range []string{"--type", "--bits", "--out", "--force", "rsa (default, 3072 bits)", "DAOS's agent and server sign and verify RSA only",
		"only drpc-server verifies it", "mode 0400"} {
		assert.Contains(t, stdout, want)
	}
	for _, unwanted := range []string{"Global Flags", "--log-level", "--log-format", "--metrics-addr", "--config"} {
		assert.NotContains(t, stdout, unwanted)
	}
	// The other commands still list them.
	code, stdout, stderr = run(t, "start", "--help")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "--log-level")
}
