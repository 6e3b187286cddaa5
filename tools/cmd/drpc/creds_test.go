package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/cc532012/drpc/daemon/daemontest"
	"github.com/cc532012/drpc/drpc/auth"
	authv1 "github.com/cc532012/drpc/proto/drpc/auth/v1"
	"github.com/cc532012/drpc/tools/cmd/drpc/internal/app"
)

// genKey makes an agent key with `drpc-agent gen-key` and returns the
// private key's path (the public key is path.pub).
func genKey(t *testing.T, dir, name string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	r := daemontest.Run(t, exec.Command(agentPath(t), "gen-key", "--type", "ed25519", "--out", path))
	require.Equal(t, 0, r.Code, "gen-key: %s", r.Stderr)
	return path
}

// startAgent runs `drpc-agent start` with args on a runtime directory under
// dir until the end of the test, and returns its socket once it serves.
func startAgent(t *testing.T, dir string, args ...string) string {
	t.Helper()
	runtimeDir := filepath.Join(dir, "run")
	p := daemontest.Start(t, agentPath(t), daemontest.ProcessOptions{Notify: true}, append([]string{"start", "--runtime-dir", runtimeDir}, args...)...)
	p.WaitReady(t)
	t.Cleanup(func() { assert.Equal(t, 0, p.Stop(t, syscall.SIGINT), "the agent's exit") })
	return filepath.Join(runtimeDir, "daos_agent.sock")
}

// TestCreds asks a real agent (agent/cmd/drpc-agent, built by agentPath) for
// credentials.
func TestCreds(t *testing.T) {
	dir := socketDir(t)
	key := genKey(t, dir, "agent.key")
	other := genKey(t, dir, "other.key")
	sock := startAgent(t, dir, "--key", key)

	me, err := user.Current()
	require.NoError(t, err)
	host, err := auth.ShortHostname()
	require.NoError(t, err)

	t.Run("text, verified", func(t *testing.T) {
		r := tool(t, "creds", "--socket", sock, "--pubkey", key+".pub")
		require.Equal(t, 0, r.Code, r.Stderr)
		assert.Empty(t, r.Stderr)
		assert.Contains(t, r.Stdout, "user:      "+me.Username+"@\n")
		assert.Contains(t, r.Stdout, "host:      "+host+"\n")
		assert.Contains(t, r.Stdout, "origin:    agent\n")
		assert.Contains(t, r.Stdout, "flavor:    AUTH_SYS\n")
		assert.Contains(t, r.Stdout, "signature: ed25519, 64 bytes\n")
		assert.NotContains(t, r.Stdout, "unchecked", "verified: nothing is left unchecked")
		assert.Contains(t, r.Stdout, "verified:  yes, signed by the ed25519 key in "+key+".pub\n")
		assert.Regexp(t, `stamp: +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d.* \(\d+, \d+s ago\)`, r.Stdout)
	})

	t.Run("json", func(t *testing.T) {
		r := tool(t, "creds", "--socket", sock, "--pubkey", key+".pub", "--json")
		require.Equal(t, 0, r.Code, r.Stderr)
		var c app.CredsJSON
		require.NoError(t, json.Unmarshal([]byte(r.Stdout), &c))
		assert.Equal(t, me.Username+"@", c.User)
		assert.NotEmpty(t, c.Group)
		assert.NotNil(t, c.Groups)
		assert.Equal(t, host, c.Host)
		assert.Equal(t, "agent", c.Origin)
		assert.Equal(t, "AUTH_SYS", c.Flavor)
		assert.Equal(t, "ed25519", c.SignatureKind)
		assert.Equal(t, 64, c.SignatureBytes)
		require.NotNil(t, c.Verified)
		assert.True(t, *c.Verified)
		assert.InDelta(t, time.Now().Unix(), int64(c.Stamp), 120)
		_, err := time.Parse(time.RFC3339, c.StampTime)
		assert.NoError(t, err)
	})

	t.Run("cred-out writes a ValidateCredentials body", func(t *testing.T) {
		out := filepath.Join(dir, "cred.json")
		r := tool(t, "creds", "--socket", sock, "--cred-out", out)
		require.Equal(t, 0, r.Code, r.Stderr)
		assert.Contains(t, r.Stdout, "signature: ed25519 by its size, 64 bytes (not checked: give --pubkey to verify it)\n")
		fi, err := os.Stat(out)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "a credential is the caller's identity")
		b, err := os.ReadFile(out)
		require.NoError(t, err)
		var req authv1.ValidateCredReq
		require.NoError(t, protojson.Unmarshal(b, &req))
		pub, err := auth.LoadPublicKey(key + ".pub")
		require.NoError(t, err)
		sys, err := auth.Verifier{}.Verify(req.GetCred(), pub)
		require.NoError(t, err)
		assert.Equal(t, me.Username+"@", sys.GetUser())
	})

	t.Run("another key does not verify", func(t *testing.T) {
		r := tool(t, "creds", "--socket", sock, "--pubkey", other+".pub")
		assert.Equal(t, 1, r.Code)
		assert.Contains(t, r.Stdout, "verified:  NO: ")
		assert.Contains(t, r.Stdout, "signature: ed25519 by its size, 64 bytes\n")
		assertOneLineError(t, r, "the credential does NOT verify with "+other+".pub", "signature does not verify")
	})

	t.Run("missing public key", func(t *testing.T) {
		r := tool(t, "creds", "--socket", sock, "--pubkey", filepath.Join(dir, "none.pub"))
		assert.Equal(t, 2, r.Code)
		assertOneLineError(t, r, "--pubkey", "none.pub")
	})

	t.Run("the identity is the caller's", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("needs root, to run the binary as uid 65534")
		}
		u, err := user.LookupId(strconv.Itoa(nobody))
		if err != nil {
			t.Skipf("uid %d has no name here: %v", nobody, err)
		}
		r := toolWith(t, runOpts{uid: nobody}, "creds", "--socket", sock, "--json")
		require.Equal(t, 0, r.Code, r.Stderr)
		var c app.CredsJSON
		require.NoError(t, json.Unmarshal([]byte(r.Stdout), &c))
		assert.Equal(t, u.Username+"@", c.User)
	})
}

// TestCredsInsecureAgent checks an agent without a key: its credentials
// carry only a digest, which --pubkey refuses.
func TestCredsInsecureAgent(t *testing.T) {
	dir := socketDir(t)
	key := genKey(t, dir, "agent.key")
	sock := startAgent(t, dir, "--allow-insecure")

	r := tool(t, "creds", "--socket", sock)
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Contains(t, r.Stdout, "signature: digest (insecure), 64 bytes\n")
	assert.NotContains(t, r.Stdout, "verified:")

	r = tool(t, "creds", "--socket", sock, "--pubkey", key+".pub")
	assert.Equal(t, 1, r.Code)
	assertOneLineError(t, r, "does NOT verify", "insecure")
}
